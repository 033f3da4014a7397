// Sharding (--shard K/N): one run's seed space cut into N disjoint slices, one per machine, so N
// machines cover one nightly run with no overlap and `foliostorm merge` puts it back together.
//
// Seed s belongs to shard ((s - first) mod N) + 1, where first is the run's first seed (--seed,
// config `seed`): shard K runs first+K-1, first+K-1+N, first+K-1+2N, ... (round robin, so every
// shard gets early and late seeds alike, and a --duration run on N machines covers a prefix of
// the seed space with at most N-1 seeds missing at its end). With --seeds S the S seeds are the
// whole run's: shard K runs those of first .. first+S-1 that fall in its slice. A seed's run never
// depends on the shard (the engines see the same config and seed).

/** The K-th (1-based, as on the command line) of N shards. */
export interface Shard {
  index: number;
  count: number;
}

/** Kubernetes Indexed Jobs set this to the pod's 0-based completion index. */
export const JOB_INDEX_ENV = 'JOB_COMPLETION_INDEX';

export class ShardError extends Error {}

const INT = /^\d+$/;

/**
 * "K/N" (1 <= K <= N), or "auto/N": K = $JOB_COMPLETION_INDEX + 1 (a Kubernetes Indexed Job with
 * completions N). Errors name --shard and, for auto, the variable.
 */
export function parseShard(spec: string, env: NodeJS.ProcessEnv = process.env): Shard {
  const m = /^\s*([^/\s]+)\s*\/\s*([^/\s]+)\s*$/.exec(String(spec));
  const usage = `(K/N with 1 <= K <= N, e.g. 2/4; or auto/N to take K from $${JOB_INDEX_ENV})`;
  if (!m) throw new ShardError(`--shard: "${spec}" is not K/N ${usage}`);
  const [, k, n] = m;
  if (!INT.test(n) || Number(n) < 1) throw new ShardError(`--shard: "${spec}": the shard count N must be an integer >= 1 ${usage}`);
  const count = Number(n);
  if (k === 'auto') {
    const raw = env[JOB_INDEX_ENV];
    if (raw === undefined || raw === '') throw new ShardError(`--shard ${spec}: $${JOB_INDEX_ENV} is not set (Kubernetes sets it in an Indexed Job; elsewhere give --shard K/N)`);
    if (!INT.test(raw.trim())) throw new ShardError(`--shard ${spec}: $${JOB_INDEX_ENV}="${raw}" is not a 0-based index`);
    const i = Number(raw.trim());
    if (i >= count) throw new ShardError(`--shard ${spec}: $${JOB_INDEX_ENV}=${i} is out of range for ${count} shards (0 to ${count - 1}; set the Job's completions to ${count}, or N to the completions)`);
    return { index: i + 1, count };
  }
  if (!INT.test(k) || Number(k) < 1 || Number(k) > count) throw new ShardError(`--shard: "${spec}": the shard index K must be an integer from 1 to ${count} ${usage}`);
  return { index: Number(k), count };
}

/** The i-th (0-based) seed a shard runs; without a shard, the i-th seed of the run. */
export function shardSeed(first: number, shard: Shard | undefined, i: number): number {
  return shard ? first + shard.index - 1 + i * shard.count : first + i;
}

/** How many of a run's `total` seeds fall in the shard. */
export function shardSeedCount(total: number, shard: Shard | undefined): number {
  if (!shard) return total;
  return total >= shard.index ? Math.floor((total - shard.index) / shard.count) + 1 : 0;
}

/** The seeds of a run of `total` seeds from `first` that the shard runs, ascending. */
export function shardSeeds(first: number, total: number, shard: Shard | undefined): number[] {
  return Array.from({ length: shardSeedCount(total, shard) }, (_, i) => shardSeed(first, shard, i));
}

/** The shard (1-based) of N that runs seed s of a run starting at first. */
export function shardOf(seed: number, first: number, count: number): number {
  return ((((seed - first) % count) + count) % count) + 1;
}

/** "2/4" */
export function shardLabel(s: Shard): string {
  return `${s.index}/${s.count}`;
}
