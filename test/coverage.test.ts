// The coverage gate (npm run coverage: scripts/coverage.mjs, scripts/coverage-lib.mjs; docs/model.md
// "Coverage: what the nightly does not reach"). The deviation-only exclusion leaves out exactly the
// code behind an inj guard, checked on the guards alone and end to end on real V8 coverage of a
// fixture through c8 (where V8 starts an arm's range decides what lies inside a region); the gate's
// arithmetic; the docs list's format, its round trip and its comparison with a run; docs/model.md's
// list parses; the script's bad arguments; a few seconds of the real thing (both engines, worker
// threads' coverage mapped back to src/*.ts); and a stop mid-run, which leaves the previous report.
// The 120 s gate run itself is not part of npm test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

interface Loc { line: number; column: number }
interface FileCov {
  statementMap: Record<string, unknown>;
  s: Record<string, number>;
  branchMap: Record<string, { locations: { start: Loc; end: Loc }[] }>;
  b: Record<string, number[]>;
  fnMap?: Record<string, { name: string; loc: { start: Loc; end: Loc } }>;
  f?: Record<string, number>;
}
interface Unreached { file: string; line: number; column: number; snippet: string; kind?: string; deviation?: string[]; guard?: string }
interface Entry { file: string; line: number; snippet: string; why: string }
interface Metric { total: number; covered: number; pct: number }
interface GateResult {
  dirs: Record<string, { lines: Metric; branches: Metric }>;
  kernel: { lines: Metric; branches: Metric };
  excluded: Record<string, { total: number; covered: number; flags: string[] }>;
  gate: Metric & { threshold: number; holds: boolean };
  unreached: Unreached[];
}
interface Lib {
  deviationFlags(text: string): Set<string>;
  deviationRegions(source: string, file: string, flags: Set<string>): { start: number; end: number; flags: string[]; guard: string }[];
  gate(files: Record<string, FileCov>, sources: (rel: string) => string, flags: Set<string>, threshold?: number): GateResult;
  codeSpan(s: string): string;
  renderEntry(e: Unreached & { why?: string }): string;
  parseDocsList(md: string): { found: boolean; entries: Entry[]; problems: string[] };
  compareWithDocs(u: Unreached[], e: Entry[]): { matched: unknown[]; moved: { branch: Unreached; entry: Entry }[]; missing: Unreached[]; stale: Entry[] };
  renderDocsList(u: Unreached[], e: Entry[], stillThere?: (e: Entry) => boolean): string;
  replaceDocsList(md: string, list: string): string;
  DOCS_BEGIN: string;
  DOCS_END: string;
}
// Plain-JS scripts outside the compiled tree: loaded by URL (dist/test/ -> scripts/).
const L = (await import(new URL('../../scripts/coverage-lib.mjs', import.meta.url).href)) as Lib;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = join(ROOT, 'scripts', 'coverage.mjs');

const FLAGS_TS = 'export interface Injections {\n  alpha: boolean;\n  beta: boolean;\n}\n';

/** The text of each region of src, in order. */
function regionTexts(src: string): string[] {
  return L.deviationRegions(src, 'x.ts', L.deviationFlags(FLAGS_TS)).map((r) => src.slice(r.start, r.end).trim());
}

test('deviationFlags: the members of interface Injections (the real file has them all)', () => {
  assert.deepEqual([...L.deviationFlags(FLAGS_TS)], ['alpha', 'beta']);
  const real = L.deviationFlags(readFileSync(join(ROOT, 'src/machine/deviations.ts'), 'utf8'));
  assert.ok(real.has('faultNoRecheck') && real.size >= 20, [...real].join());
  assert.throws(() => L.deviationFlags('export const x = 1;'), /no flags/);
});

test('deviationRegions: only code that runs with a flag on; the other arm, look-alikes and non-implying guards are not regions', () => {
  const cases: [string, string[]][] = [
    ['if (cpu.inj.alpha) { dev(); } else { normal(); }', ['{ dev(); }']],
    ['if (!cpu.inj.alpha) { normal(); } else { dev(); }', ['else { dev(); }']],
    ['if (x && cpu.inj.alpha) dev();', ['dev();']],
    ['if (x || cpu.inj.alpha) normal();', []],
    ['if (!(cpu.inj.alpha || cpu.inj.beta)) normal(); else dev();', ['else dev();']],
    ['if (cpu.inj.alpha || inj.beta) dev();', ['dev();']],
    ['const a = cpu.inj.alpha ? dev() : normal();', ['? dev()']],
    ['const a = !cpu.inj.alpha ? normal() : dev();', [': dev()']],
    ['const a = cpu.inj.alpha && dev();', ['&& dev()']],
    ['const a = !cpu.inj.alpha && normal();', []],
    ['const a = cpu.inj.alpha || normal();', []],
    ['const a = !cpu.inj.alpha || dev();', ['|| dev()']],
    ['function f() { if (!cpu.inj.alpha) return 1; dev(); return 2; }', ['dev(); return 2;']],
    ['function f() { if (cpu.inj.alpha) return 1; normal(); return 2; }', ['return 1;']],
    ['function f() { if (!cpu.inj.alpha) normal(); rest(); }', []],
    // look-alikes: a flag's name read off something else, a non-flag read off inj, another object's inj-like name
    ['if (cfg.alpha) a(); if (cpu.inj.gamma) b(); if (cpu.inject.alpha) c(); if (inj2.alpha) d();', []],
    // a flag only read, not guarding: the read itself is normal code
    ['const n = cpu.inj.alpha ? 1 : 0; use(cpu.inj.beta);', ['? 1']],
  ];
  for (const [src, want] of cases) {
    assert.deepEqual(regionTexts(src), want, src);
  }
});

/** Compile a TypeScript fixture under dir/src/linux, run it under V8 coverage, and c8 it (as npm run coverage does): coverage-final.json. */
function c8Fixture(dir: string, source: string, main: string): Record<string, FileCov> {
  mkdirSync(join(dir, 'src', 'linux'), { recursive: true });
  mkdirSync(join(dir, 'dist'), { recursive: true });
  writeFileSync(join(dir, 'src', 'linux', 'fix.ts'), source);
  const out = ts.transpileModule(source, { fileName: 'fix.ts', compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, sourceMap: true } });
  const map = JSON.parse(out.sourceMapText!) as { sources: string[] };
  map.sources = ['../src/linux/fix.ts'];
  writeFileSync(join(dir, 'dist', 'fix.mjs'), out.outputText.replace(/fix\.js\.map/, 'fix.mjs.map'));
  writeFileSync(join(dir, 'dist', 'fix.mjs.map'), JSON.stringify(map));
  writeFileSync(join(dir, 'dist', 'main.mjs'), main);
  const c8 = join(ROOT, 'node_modules', 'c8', 'bin', 'c8.js');
  const r = spawnSync(process.execPath, [c8, '--reporter', 'json', '--report-dir', 'cov', '--temp-directory', 'raw', '--exclude-after-remap', '--include', 'src/linux/**', process.execPath, 'dist/main.mjs'], { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const raw = JSON.parse(readFileSync(join(dir, 'cov', 'coverage-final.json'), 'utf8')) as Record<string, FileCov>;
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k.slice(dir.length + 1).split('\\').join('/'), v]));
}

test('on real V8 coverage (c8 through a source map): deviation-only arms are left out, every other unreached branch is counted', () => {
  // clean run: every flag off. DEV marks code that runs only with a flag on, GAP normal code this run does not reach.
  const source = `${FLAGS_TS}interface Cpu { inj: Injections }
export function run(cpu: Cpu, x: number): number {
  let r = 0;
  if (cpu.inj.alpha) { // DEV1 (the then block)
    r += 1;
  } else {
    r += 2;
  }
  if (!cpu.inj.beta) {
    r += 3;
  } else { // DEV2 (the else block)
    r += 4;
  }
  const v = cpu.inj.alpha ? -1 : x; // DEV3 (the ? arm)
  const w = cpu.inj.beta && x > 100; // DEV4 (the right operand)
  if (x > 1000) r += 5; // GAP1
  const y = x > 1000 ? 7 : 8; // GAP2 (the ? arm)
  const z = x > 1000 && r > 0; // GAP3
  if (cpu.inj.alpha || x > 1000) r += 9; // GAP4: not deviation-only
  if (!cpu.inj.alpha) return r + v + y + Number(w) + Number(z);
  r += 10; // DEV5: after an early return
  return r;
}
export function never(): number { // GAP5: a function never called
  return 1;
}
`;
  const dir = mkdtempSync(join(tmpdir(), 'foliostorm-coverage-'));
  try {
    const files = c8Fixture(dir, source, "import { run } from './fix.mjs';\nconst cpu = { inj: { alpha: false, beta: false } };\nlet s = 0;\nfor (let x = 0; x < 50; x++) s += run(cpu, x);\nif (s < 0) console.log(s);\n");
    assert.deepEqual(Object.keys(files), ['src/linux/fix.ts']);
    const g = L.gate(files, (rel) => readFileSync(join(dir, rel), 'utf8'), L.deviationFlags(FLAGS_TS), 50);
    const lines = source.split('\n');
    const tag = (u: Unreached) => /\/\/ (DEV\d|GAP\d)/.exec(lines[u.line - 1] ?? '')?.[1] ?? `untagged line ${u.line}: ${u.snippet}`;
    assert.deepEqual(g.unreached.filter((u) => u.deviation).map(tag), ['DEV1', 'DEV2', 'DEV3', 'DEV4', 'DEV5']);
    assert.deepEqual(g.unreached.filter((u) => !u.deviation).map(tag).sort(), ['GAP1', 'GAP2', 'GAP3', 'GAP4', 'GAP5'].sort());
    // the figure: the excluded ones are out of both counts; the function never called is in (c8 has no branch for it)
    const ex = g.excluded['src/linux/fix.ts'];
    assert.equal(ex.total, 5);
    assert.equal(g.gate.total, g.kernel.branches.total - ex.total + 1);
    assert.equal(g.gate.covered, g.kernel.branches.covered - ex.covered);
    assert.equal(g.gate.total - g.gate.covered, 5);
    assert.deepEqual(ex.flags.sort(), ['alpha', 'beta']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A file's coverage with one branch per [line, column, hits], and lines statements of which covered are hit. */
function fileCov(branches: [number, number, number][], lines = 4, covered = 4): FileCov {
  const fc: FileCov = { statementMap: {}, s: {}, branchMap: {}, b: {} };
  for (let i = 0; i < lines; i++) {
    fc.statementMap[i] = {};
    fc.s[i] = i < covered ? 1 : 0;
  }
  branches.forEach(([line, column, hits], i) => {
    fc.branchMap[i] = { locations: [{ start: { line, column }, end: { line, column: column + 1 } }] };
    fc.b[i] = [hits];
  });
  return fc;
}

test('gate: kernel side only, per folder; the threshold decides; the figure rounds down', () => {
  const src = 'if (cpu.inj.alpha) dev();\nif (x) a();\nif (y) b();\n';
  const files = {
    'src/linux/a.ts': fileCov([[1, 19, 0], [2, 7, 0], [3, 7, 5]]),
    'src/machine/b.ts': fileCov([[2, 7, 1], [3, 7, 1]], 2, 1),
    'src/check/c.ts': fileCov([[2, 7, 0]]), // the tool's side: not counted
  };
  const g = L.gate(files, () => src, L.deviationFlags(FLAGS_TS), 75);
  assert.deepEqual(g.dirs['src/linux'].branches, { total: 3, covered: 1, pct: 33.33 });
  assert.deepEqual(g.dirs['src/machine'].lines, { total: 2, covered: 1, pct: 50 });
  assert.deepEqual(g.kernel.branches, { total: 5, covered: 3, pct: 60 });
  assert.deepEqual(g.gate, { total: 4, covered: 3, pct: 75, threshold: 75, holds: true });
  assert.equal(L.gate(files, () => src, L.deviationFlags(FLAGS_TS), 75.01).gate.holds, false);
  assert.deepEqual(g.unreached.map((u) => [u.file, u.line, u.deviation ?? null]), [['src/linux/a.ts', 1, ['alpha']], ['src/linux/a.ts', 2, null]]);
  // a function never called (V8: no block ranges, so no branch of c8's) is one unreached branch of the gate's; a called one adds nothing
  const fn = (line: number) => ({ name: 'f', loc: { start: { line, column: 0 }, end: { line, column: 9 } } });
  files['src/machine/b.ts'] = { ...files['src/machine/b.ts'], fnMap: { 0: fn(2), 1: fn(3) }, f: { 0: 0, 1: 4 } };
  const g2 = L.gate(files, () => src, L.deviationFlags(FLAGS_TS), 75);
  assert.deepEqual(g2.kernel.branches, g.kernel.branches);
  assert.deepEqual(g2.gate, { total: 5, covered: 3, pct: 60, threshold: 75, holds: false });
  assert.deepEqual(g2.unreached.at(-1), { file: 'src/machine/b.ts', line: 2, column: 0, snippet: 'if (x) a();', kind: 'function never called' });
});

test('docs list: an entry renders and parses back, backticks and pipes in the code included', () => {
  const u: Unreached = { file: 'src/linux/mm/x.ts', line: 12, column: 3, snippet: 'throw new Error(`a ${b}` || c);' };
  const line = L.renderEntry({ ...u, why: 'error path: a bad argument' });
  assert.equal(line, '- `src/linux/mm/x.ts:12` `` throw new Error(`a ${b}` || c); `` — error path: a bad argument');
  const md = `# x\n\n${L.DOCS_BEGIN}\n${line}\n${L.DOCS_END}\n`;
  const p = L.parseDocsList(md);
  assert.deepEqual(p.problems, []);
  assert.deepEqual(p.entries, [{ file: u.file, line: 12, snippet: u.snippet, why: 'error path: a bad argument' }]);
  assert.equal(L.codeSpan('`x'), '`` `x ``');
});

test('docs list: malformed lines and a why of no known kind are problems; no markers is one', () => {
  const md = `${L.DOCS_BEGIN}\nsome prose\n- \`src/a.ts\` \`x\` — gap\n- \`src/a.ts:1\` — gap\n- \`src/a.ts:1\` \`x\` gap\n- \`src/a.ts:2\` \`y\` — because\n- \`src/a.ts:3\` \`z\` — unreachable by design: ok\n${L.DOCS_END}`;
  const p = L.parseDocsList(md);
  assert.equal(p.problems.length, 5, p.problems.join('\n'));
  assert.deepEqual(p.entries.map((e) => e.line), [2, 3]);
  assert.equal(L.parseDocsList('# nothing').found, false);
});

test('docs list: compare a run with the docs (matched, moved, missing, stale) and rewrite it keeping the whys, and the entries whose code is still there', () => {
  const run: Unreached[] = [
    { file: 'src/a.ts', line: 1, column: 0, snippet: 'return x;' },
    { file: 'src/a.ts', line: 9, column: 0, snippet: 'continue;' },
    { file: 'src/b.ts', line: 4, column: 0, snippet: 'f();' },
    { file: 'src/b.ts', line: 7, column: 2, snippet: '? a : b', deviation: ['alpha'], guard: 'cpu.inj.alpha' },
  ];
  const docs: Entry[] = [
    { file: 'src/a.ts', line: 1, snippet: 'return x;', why: 'gap: one' },
    { file: 'src/a.ts', line: 5, snippet: 'continue;', why: 'error path: two' },
    { file: 'src/c.ts', line: 2, snippet: 'gone();', why: 'gap: three' },
  ];
  const c = L.compareWithDocs(run, docs);
  assert.equal(c.matched.length, 1);
  assert.deepEqual(c.moved.map((m) => [m.entry.line, m.branch.line]), [[5, 9]]);
  assert.deepEqual(c.missing.map((m) => m.file), ['src/b.ts', 'src/b.ts']);
  assert.deepEqual(c.stale.map((s) => s.file), ['src/c.ts']);
  const list = L.renderDocsList(run, docs);
  const p = L.parseDocsList(L.replaceDocsList('# Model\n', list));
  assert.deepEqual(p.entries.map((e) => `${e.line} ${e.why}`), ['1 gap: one', '9 error path: two', '4 TODO: why', "7 deviation-only (alpha: under `cpu.inj.alpha`)"]);
  assert.deepEqual(p.problems, ['list line 3: the why does not start with one of: deviation-only, error path, unreachable by design, gap: - `src/b.ts:4` `f();` — TODO: why']);
  // an entry for a branch this run reached stays while its code is there, in file and line order
  const kept = L.parseDocsList(L.replaceDocsList('', L.renderDocsList(run, docs, (e) => e.snippet === 'gone();'))).entries;
  assert.deepEqual(kept.map((e) => `${e.file}:${e.line}`), ['src/a.ts:1', 'src/a.ts:9', 'src/b.ts:4', 'src/b.ts:7', 'src/c.ts:2']);
  assert.equal(kept[4].why, 'gap: three');
  // replacing keeps what is around the list
  const md = `# M\n\nbefore\n\n${L.DOCS_BEGIN}\nold\n${L.DOCS_END}\n\nafter\n`;
  const r = L.replaceDocsList(md, list);
  assert.ok(r.startsWith('# M\n\nbefore\n\n') && r.endsWith(`${L.DOCS_END}\n\nafter\n`));
  assert.ok(!r.includes('\nold\n'));
});

test('docs/model.md: its unreached-branch list parses, every entry has a why of a known kind and names a kernel-side file', () => {
  const p = L.parseDocsList(readFileSync(join(ROOT, 'docs', 'model.md'), 'utf8'));
  assert.ok(p.found, 'docs/model.md has the list');
  assert.deepEqual(p.problems, []);
  assert.ok(p.entries.length > 0);
  for (const e of p.entries) {
    assert.match(e.file, /^src\/(linux|machine)\//);
    assert.ok(existsSync(join(ROOT, e.file)), e.file);
  }
});

test('coverage.mjs: a bad argument is one line on stderr and exit 2', () => {
  for (const args of [['--duration', 'soon'], ['--threads-duration', '3m'], ['--threshold', '101'], ['--bogus'], ['--out', '.'], ['--config', 'no/such.json']]) {
    const r = spawnSync(process.execPath, [SCRIPT, '--no-build', ...args], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^coverage: [^\n]+\n$/, args.join(' '));
    assert.equal(r.stdout, '');
  }
});

test('coverage.mjs: a few seconds of both engines: worker threads\' coverage is collected, the threads build\'s too, all mapped back to src/*.ts; --no-run judges it again', { timeout: 120_000 }, () => {
  const out = mkdtempSync(join(tmpdir(), 'foliostorm-coverage-run-'));
  try {
    // the smoke mix, its threads engine on the threads build (dist/threads: the stripped copy and its source maps)
    const cfg = join(out, 'smoke-stripped.json');
    writeFileSync(cfg, JSON.stringify({ ...JSON.parse(readFileSync(join(ROOT, 'configs', 'smoke.json'), 'utf8')), threadsCode: 'stripped' }));
    const r = spawnSync(process.execPath, [SCRIPT, '--no-build', '--config', cfg, '--duration', '4s', '--threads-duration', '2s', '--threshold', '10', '--out', join(out, 'cov')], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const cov = join(out, 'cov');
    for (const f of ['coverage-summary.json', 'coverage-final.json', 'index.html', 'gate.json', 'nightly-sched.txt', 'nightly-threads.txt']) assert.ok(existsSync(join(cov, f)), f);
    const gate = JSON.parse(readFileSync(join(cov, 'gate.json'), 'utf8')) as GateResult & { run: { parts: { engine: string; exit: number }[]; rawFiles: { total: number; workers: number; threadsBuild: number } } };
    assert.deepEqual(gate.run.parts.map((p) => [p.engine, p.exit]), [['sched', 0], ['threads', 0]]);
    // the sched engine's seeds run on 2 piscina threads, the threads engine's CPUs on 2 more, on the threads build
    assert.ok(gate.run.rawFiles.workers >= 4, JSON.stringify(gate.run.rawFiles));
    assert.ok(gate.run.rawFiles.threadsBuild >= 2, JSON.stringify(gate.run.rawFiles));
    // interleave() (src/machine/gen.ts) runs only in the threads build: reached, so its coverage came back to src/
    assert.ok(!gate.unreached.some((u) => u.file === 'src/machine/gen.ts' && u.kind && /interleave/.test(u.snippet)), JSON.stringify(gate.unreached.filter((u) => u.file === 'src/machine/gen.ts')));
    const keys = Object.keys(JSON.parse(readFileSync(join(cov, 'coverage-final.json'), 'utf8')) as object);
    assert.ok(keys.length > 10 && keys.every((k) => /[/\\]src[/\\](linux|machine)[/\\].*\.ts$/.test(k)), keys.filter((k) => !k.endsWith('.ts')).join());
    assert.ok(gate.kernel.branches.covered > 500, JSON.stringify(gate.kernel));
    assert.match(r.stdout, /^gate {6}\d+(\.\d+)?% of \d+ kernel-side branches reached \(deviation-only left out\); threshold 10%: holds$/m);
    // the threads engine's stripped copy (dist/threads) counted as the src file it came from
    const summary = JSON.parse(readFileSync(join(cov, 'coverage-summary.json'), 'utf8')) as Record<string, unknown>;
    assert.ok(!Object.keys(summary).some((k) => k.includes(`dist`)));
    const again = spawnSync(process.execPath, [SCRIPT, '--no-run', '--threshold', '100', '--out', cov], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(again.status, 1, again.stdout + again.stderr);
    assert.match(again.stdout, /threshold 100%: FAILS/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('coverage.mjs: stopped mid-run (SIGTERM), it exits 130 and leaves the report folder as it was, with no work folder', { timeout: 60_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'foliostorm-coverage-stop-'));
  try {
    const cov = join(out, 'cov');
    mkdirSync(cov);
    writeFileSync(join(cov, 'index.html'), 'the previous report');
    const child = spawn(process.execPath, [SCRIPT, '--no-build', '--config', 'configs/smoke.json', '--duration', '60s', '--out', cov], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += String(d);
      // the nightly has started: stop the run
      if (/run "smoke"/.test(err)) child.kill('SIGTERM');
    });
    const code = await new Promise<number | null>((res) => child.on('close', (c) => res(c)));
    assert.equal(code, 130, err);
    assert.match(err, /coverage: SIGTERM: stopped/);
    assert.deepEqual(readdirSync(out), ['cov']);
    assert.deepEqual(readdirSync(cov), ['index.html']);
    assert.equal(readFileSync(join(cov, 'index.html'), 'utf8'), 'the previous report');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
