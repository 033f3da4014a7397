// The mutation score's sampler and shards (npm run mutation, docs/mutation.md): pure functions on
// a list of mutants as Stryker's instrumenter reports them ({ fileName, location: { start, end }
// with 0-based lines and columns, mutatorName, replacement }). Plain JavaScript because the driver
// (scripts/mutation.mjs) runs it without a build; test/mutation-sample.test.ts checks it.
import seedrandom from 'seedrandom';

/** A mutant's identity across runs of the instrumenter on the same tree: where, which mutator, what it writes. */
export function mutantKey(m) {
  const { start, end } = m.location;
  return `${m.fileName}:${start.line + 1}:${start.column}-${end.line + 1}:${end.column} ${m.mutatorName} ${JSON.stringify(m.replacement)}`;
}

/** The Stryker `--mutate` range that selects the mutant's node (and whatever lies inside it): 1-based lines, 0-based columns. */
export function mutateRange(m) {
  const { start, end } = m.location;
  return `${m.fileName}:${start.line + 1}:${start.column}-${end.line + 1}:${end.column}`;
}

/** Source order: file, then start, then end, then mutator and replacement (a total order on distinct keys). */
export function compareMutants(a, b) {
  const s = (x, y) => (x < y ? -1 : x > y ? 1 : 0);
  return (
    s(a.fileName, b.fileName) ||
    a.location.start.line - b.location.start.line ||
    a.location.start.column - b.location.start.column ||
    a.location.end.line - b.location.end.line ||
    a.location.end.column - b.location.end.column ||
    s(a.mutatorName, b.mutatorName) ||
    s(a.replacement, b.replacement)
  );
}

/**
 * How many of `size` mutants each file gets: proportional to its mutant count, by largest
 * remainder (the floors first, then one more to the files with the largest fractional parts,
 * ties to the larger file, then to the file name first in order). Sums to min(size, total).
 * @param {Map<string, number>} counts mutants per file
 * @returns {Map<string, number>}
 */
export function allocate(counts, size) {
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  const want = Math.max(0, Math.min(size, total));
  const files = [...counts.keys()].sort();
  const out = new Map();
  if (total === 0) return out;
  const rest = [];
  let given = 0;
  for (const f of files) {
    const exact = (want * counts.get(f)) / total;
    const base = Math.floor(exact);
    out.set(f, base);
    given += base;
    rest.push({ f, frac: exact - base, n: counts.get(f) });
  }
  rest.sort((a, b) => b.frac - a.frac || b.n - a.n || (a.f < b.f ? -1 : a.f > b.f ? 1 : 0));
  for (let i = 0; given < want; i++, given++) out.set(rest[i].f, out.get(rest[i].f) + 1);
  return out;
}

/**
 * A seeded sample of `size` mutants stratified over files: each file gets its share (allocate)
 * and picks that many of its mutants by a seeded shuffle of its own (seedrandom(`${seed}:${file}`)),
 * so a file's picks depend only on the seed, its own mutants and its share. The result is in
 * source order (compareMutants); the input order does not matter.
 */
export function sampleMutants(mutants, size, seed) {
  const byFile = new Map();
  for (const m of [...mutants].sort(compareMutants)) {
    if (!byFile.has(m.fileName)) byFile.set(m.fileName, []);
    byFile.get(m.fileName).push(m);
  }
  const shares = allocate(new Map([...byFile].map(([f, ms]) => [f, ms.length])), size);
  const out = [];
  for (const [f, ms] of byFile) {
    const k = shares.get(f) ?? 0;
    if (k === 0) continue;
    const rng = seedrandom(`${seed}:${f}`);
    const idx = ms.map((_, i) => i);
    for (let i = idx.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    for (const i of idx.slice(0, k).sort((a, b) => a - b)) out.push(ms[i]);
  }
  return out;
}

/** Parse `K/N` (1 <= K <= N); throws on anything else. */
export function parseShard(s) {
  const m = /^(\d+)\/(\d+)$/.exec(String(s));
  const k = m ? Number(m[1]) : NaN;
  const n = m ? Number(m[2]) : NaN;
  if (!m || n < 1 || k < 1 || k > n) throw new Error(`--shard ${s}: expected K/N with 1 <= K <= N`);
  return { k, n };
}

/** Shard K of N of a sample in source order: every N-th mutant from the K-th, so each shard spans every file. */
export function shardOf(sample, k, n) {
  return sample.filter((_, i) => i % n === k - 1);
}
