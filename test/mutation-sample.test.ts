// The mutation score's sampler (scripts/mutation-sample.mjs, docs/mutation.md) on a synthetic
// mutant list: the same seed gives the same sample whatever the input order, each file gets its
// proportional share (largest remainder), and the shards split the sample exactly. The mutation
// run itself (npm run mutation) is hours of machine time and is not part of npm test.
import { test } from 'node:test';
import assert from 'node:assert/strict';

interface Loc { line: number; column: number }
interface Mutant { fileName: string; location: { start: Loc; end: Loc }; mutatorName: string; replacement: string }
interface Sampler {
  mutantKey(m: Mutant): string;
  mutateRange(m: Mutant): string;
  allocate(counts: Map<string, number>, size: number): Map<string, number>;
  sampleMutants(ms: readonly Mutant[], size: number, seed: string | number): Mutant[];
  parseShard(s: string): { k: number; n: number };
  shardOf(sample: readonly Mutant[], k: number, n: number): Mutant[];
}
// A plain-JS script outside the compiled tree: loaded by URL (dist/test/ -> scripts/).
const S = (await import(new URL('../../scripts/mutation-sample.mjs', import.meta.url).href)) as Sampler;

/** files a: 100 mutants, b: 37, c: 3, d: 1, in a shuffled order. */
function synthetic(): Mutant[] {
  const out: Mutant[] = [];
  const sizes: Record<string, number> = { 'src/a.ts': 100, 'src/b.ts': 37, 'src/c.ts': 3, 'src/d.ts': 1 };
  for (const [fileName, n] of Object.entries(sizes)) {
    for (let i = 0; i < n; i++) {
      const line = Math.floor(i / 2);
      out.push({ fileName, location: { start: { line, column: 4 }, end: { line, column: 20 } }, mutatorName: i % 2 ? 'EqualityOperator' : 'ConditionalExpression', replacement: `r${i}` });
    }
  }
  // a fixed permutation, so the input order differs from source order
  return out.map((m, i) => ({ m, k: (i * 7919) % out.length })).sort((x, y) => x.k - y.k).map((x) => x.m);
}

const keys = (ms: readonly Mutant[]): string[] => ms.map(S.mutantKey);

test('mutation sampler: the same seed gives the same sample, whatever the input order', () => {
  const ms = synthetic();
  const a = S.sampleMutants(ms, 20, 7);
  const b = S.sampleMutants([...ms].reverse(), 20, 7);
  assert.equal(a.length, 20);
  assert.deepEqual(keys(a), keys(b));
  assert.equal(new Set(keys(a)).size, 20, 'no mutant twice');
  assert.notDeepEqual(keys(S.sampleMutants(ms, 20, 8)), keys(a), 'another seed, another sample');
  // source order: sorted by file, then position
  const sorted = [...a].sort((x, y) => (x.fileName < y.fileName ? -1 : x.fileName > y.fileName ? 1 : x.location.start.line - y.location.start.line));
  assert.deepEqual(keys(a).map((k) => k.split(':')[0]), keys(sorted).map((k) => k.split(':')[0]));
});

test('mutation sampler: stratified over files by largest remainder', () => {
  const ms = synthetic(); // 141 mutants
  const per = (sample: Mutant[]): Record<string, number> => {
    const r: Record<string, number> = {};
    for (const m of sample) r[m.fileName] = (r[m.fileName] ?? 0) + 1;
    return r;
  };
  // 20 * (100, 37, 3, 1) / 141 = 14.18, 5.25, 0.43, 0.14: floors 14 + 5, the one left to c (0.43)
  assert.deepEqual(per(S.sampleMutants(ms, 20, 1)), { 'src/a.ts': 14, 'src/b.ts': 5, 'src/c.ts': 1 });
  assert.deepEqual(per(S.sampleMutants(ms, 20, 99)), { 'src/a.ts': 14, 'src/b.ts': 5, 'src/c.ts': 1 });
  assert.deepEqual(Object.fromEntries(S.allocate(new Map([['x', 1], ['y', 1], ['z', 1]]), 2)), { x: 1, y: 1, z: 0 }, 'ties to the name first in order');
  assert.equal(S.sampleMutants(ms, 1000, 1).length, 141, 'a sample no smaller than the list is the list');
  assert.equal(S.sampleMutants(ms, 0, 1).length, 0);
  // a file's picks depend only on its own mutants and share: other files' mutants changing leaves them
  const onlyA = (s: Mutant[]): string[] => keys(s.filter((m) => m.fileName === 'src/a.ts'));
  const fewerB = ms.filter((m) => m.fileName !== 'src/b.ts' || m.replacement !== 'r0');
  const s1 = S.sampleMutants(ms, 141 - 1, 5);
  assert.equal(onlyA(s1).length, 99);
  assert.deepEqual(onlyA(S.sampleMutants(fewerB, 20, 5)), onlyA(S.sampleMutants(ms, 20, 5)));
});

test('mutation sampler: shards split the sample exactly, each spanning the files', () => {
  const sample = S.sampleMutants(synthetic(), 30, 3);
  const shards = [1, 2, 3].map((k) => S.shardOf(sample, k, 3));
  assert.deepEqual(shards.map((s) => s.length), [10, 10, 10]);
  assert.deepEqual(keys(shards.flat()).sort(), keys(sample).sort());
  for (const s of shards) assert.ok(new Set(s.map((m) => m.fileName)).size >= 2);
  assert.deepEqual(S.parseShard('2/3'), { k: 2, n: 3 });
  for (const bad of ['0/3', '4/3', '1', 'a/b', '1/0']) assert.throws(() => S.parseShard(bad), /--shard/);
  assert.equal(S.mutateRange(sample[0]).split(':')[0], sample[0].fileName);
  assert.match(S.mutateRange({ fileName: 'f.ts', location: { start: { line: 0, column: 2 }, end: { line: 3, column: 9 } }, mutatorName: 'X', replacement: '' }), /^f\.ts:1:2-4:9$/);
});
