// Source maps of the threads build (src/build/sourcemap.ts): the VLQ codec, composition, and that a
// stripped copy's map leads back to the TypeScript line each stripped line came from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { composeMaps, decodeMappings, encodeMappings, prependLines, type RawSourceMap, type Segment } from '../../src/build/sourcemap.js';
import { stripFile } from '../../src/build/strip-generators.js';
import { threadsBuildFresh } from '../../src/engine/threads-code.js';

test('decodeMappings / encodeMappings: known values, absolute positions, a round trip', () => {
  // AAAA: [0,0,0,0]; SAASA: col +9, src +0, line +0, col +9, name +0; ;; an empty line; ACCA: col 0 (a new
  // line), src +1, line +1, col +0 (so 9); E: col +2, unmapped
  const lines = decodeMappings('AAAA,SAASA;;ACCA,E');
  assert.deepEqual(lines, [[[0, 0, 0, 0], [9, 0, 0, 9, 0]], [], [[0, 1, 1, 9], [2]]]);
  assert.equal(encodeMappings(lines), 'AAAA,SAASA;;ACCA,E');
  const big: Segment[][] = [[[0, 0, 0, 0], [1000, 3, 70000, 123]], [[5]], [[7, 2, 10, 0, 4]]];
  assert.deepEqual(decodeMappings(encodeMappings(big)), big);
});

test('decodeMappings: a character outside base64 is an error', () => {
  assert.throws(() => decodeMappings('AA!A'), /bad character "!"/);
});

test('composeMaps: each outer segment takes the inner position at or before its intermediate column; unmapped ones are dropped', () => {
  const inner: RawSourceMap = { version: 3, sources: ['a.ts', 'b.ts'], names: [], mappings: encodeMappings([[[0, 0, 10, 0], [8, 1, 20, 4]], [[4, 0, 30, 2]]]) };
  const outer: RawSourceMap = { version: 3, sources: ['mid.js'], names: [], mappings: encodeMappings([[[0, 0, 0, 3], [6, 0, 0, 9]], [[2, 0, 1, 1], [3]], [[0, 0, 1, 5]]]) };
  const c = composeMaps(outer, inner);
  assert.deepEqual(c.sources, ['a.ts', 'b.ts']);
  assert.deepEqual(decodeMappings(c.mappings), [[[0, 0, 10, 0], [6, 1, 20, 4]], [], [[0, 0, 30, 2]]]);
  assert.deepEqual(decodeMappings(prependLines(c, 2).mappings).slice(0, 3), [[], [], [[0, 0, 10, 0], [6, 1, 20, 4]]]);
});

/** The source position (0-based line, column) a generated position maps to, as a consumer reads a map. */
function lookup(map: RawSourceMap, line: number, col: number): { source: string; line: number; col: number } | null {
  const row = decodeMappings(map.mappings)[line] ?? [];
  const seg = row.filter((s) => s[0] <= col && s.length >= 4).at(-1);
  return seg ? { source: map.sources[seg[1]], line: seg[2], col: seg[3] } : null;
}

test('a stripped copy maps back to the TypeScript: tsc\'s map composed with the strip\'s', () => {
  const tsSrc = [
    "import { drive, P } from './gen.js';",
    'export const GENERATORS = true;',
    'export function* inner(cpu: unknown, n: number): Generator<number, number> {',
    '  for (let i = 0; i < n; i++) yield P.SET_PTE;',
    '  return n;',
    '}',
    'export function* outer(cpu: unknown): Generator<number, number> {',
    '  yield P.OP;',
    '  const k: number = yield* inner(cpu, 3);',
    '  return k + 1;',
    '}',
    'export const run = (cpu: unknown): number => drive(outer(cpu));',
  ].join('\n');
  const js = ts.transpileModule(tsSrc, { fileName: 'x.ts', compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, sourceMap: true } });
  const tscMap = JSON.parse(js.sourceMapText!) as RawSourceMap;
  const r = stripFile(js.outputText, 'x.js', new Set(['inner', 'outer']));
  const map = composeMaps(r.map, tscMap);
  const out = r.code.split('\n');
  const tsLines = tsSrc.split('\n');
  for (const [needle, tsNeedle] of [['inner(cpu, 3)', 'inner(cpu, 3)'], ['__interleave(P.OP)', 'yield P.OP'], ['outer(cpu))', 'outer(cpu))'], ['return k + 1', 'return k + 1']]) {
    const line = out.findIndex((l) => l.includes(needle));
    assert.ok(line >= 0, `${needle} in the stripped code`);
    const p = lookup(map, line, out[line].indexOf(needle));
    assert.ok(p, `${needle} is mapped`);
    assert.equal(p.source, 'x.ts');
    assert.equal(tsLines[p.line].slice(p.col, p.col + tsNeedle.length), tsNeedle, `${needle} maps to ${tsNeedle}`);
  }
});

test('the threads build: every stripped file has a map whose sources are the src/*.ts files', { skip: threadsBuildFresh() ? false : 'dist/threads missing or stale (npm test builds it)' }, () => {
  const file = new URL('../../threads/src/linux/mm/memory.js', import.meta.url);
  const code = readFileSync(file, 'utf8');
  assert.match(code, /\n\/\/# sourceMappingURL=memory\.js\.map\n$/);
  const map = JSON.parse(readFileSync(new URL('memory.js.map', file), 'utf8')) as RawSourceMap;
  assert.equal(map.sources.length, 1);
  const src = fileURLToPath(new URL(map.sources[0], file));
  assert.match(src, /src[/\\]linux[/\\]mm[/\\]memory\.ts$/);
  assert.ok(existsSync(src));
  // a function's declaration maps to its declaration in the TypeScript
  const lines = code.split('\n');
  const line = lines.findIndex((l) => /^export function do_anonymous_page\(/.test(l));
  assert.ok(line >= 0);
  const p = lookup(map, line, lines[line].indexOf('do_anonymous_page'));
  assert.ok(p);
  assert.match(readFileSync(src, 'utf8').split('\n')[p.line].slice(p.col), /^do_anonymous_page\(/);
});
