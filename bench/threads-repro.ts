// How often does a threads failure recur when repro replays it in the sched engine? Collects
// threads-engine failures for several deviations (the smoke config, 2 worker threads, seeds from
// 1), writes each as an artifact, and replays each: along the recorded global order (the follow
// scheduler; first attempt, and within --attempts), and, for comparison, the seed-only replay repro
// made before (the same recorded op streams under the sched random scheduler, no order).
// Usage: node dist/bench/threads-repro.js [--target 20] [--per 4] [--budget 90] [--attempts 5] [--ring N] [--out DIR] [deviation...]
// Machines are noisy: which failures are found depends on the real interleaving; the replays of a
// given set of artifacts are deterministic.
import { fileURLToPath } from 'node:url';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfigFile, type Config } from '../src/config/config.js';
import { runThreads } from '../src/engine/threads.js';
import type { ViolationRecord } from '../src/engine/result.js';
import { loadArtifact, makeArtifact, type Artifact } from '../src/report/artifact.js';
import { writeAtomic } from '../src/report/results.js';
import { reproduce, type ReproResult } from '../src/repro/repro.js';
import type { FollowOutcome } from '../src/engine/schedulers/follow.js';

const args = process.argv.slice(2);
const flag = (name: string, dflt: number): number => {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(args[i + 1]);
  args.splice(i, 2);
  return v;
};
const target = flag('target', 20), per = flag('per', 4), budget = flag('budget', 90), attempts = flag('attempts', 5), ring = flag('ring', 0);
const outAt = args.indexOf('--out');
const out = outAt >= 0 ? args.splice(outAt, 2)[1] : join('results', `threads-repro-${new Date().toISOString().replace(/[:.]/g, '-')}`);
const deviations = args.length ? args : ['fault-refcount-late', 'fault-no-recheck', 'zap-free-before-flush', 'fork-mapcount-before-ref', 'cow-reuse-shared'];
const smoke = loadConfigFile(fileURLToPath(new URL('../../configs/smoke.json', import.meta.url)));
/** --ring N: a flight recorder of N events per CPU instead of the config's (a longer window of exact order) */
const base: Config = ring ? { ...smoke, ringSize: ring } : smoke;

/** Up to n threads failures of one deviation (the first violation of each failing round), seeds from first on. */
async function collect(deviation: string, n: number, first: number): Promise<{ cfg: Config; vs: ViolationRecord[]; next: number }> {
  const cfg: Config = { ...base, engine: 'threads', inject: [deviation], cpus: 2, workers: 2, seed: first };
  const vs: ViolationRecord[] = [];
  let next = first;
  const ac = new AbortController();
  await runThreads(cfg, {
    seeds: null, durationSec: budget, workers: 2, signal: ac.signal,
    onRound: (r) => {
      next = r.seed + 1;
      if (r.violations.length) vs.push(r.violations[0]);
      if (vs.length >= n) ac.abort();
    },
  });
  return { cfg: { ...cfg, seed: first }, vs, next };
}

interface Row {
  deviation: string;
  seed: number;
  signature: string;
  artifact: string;
  recordedOps: number;
  follow: { first: boolean; within: boolean; attempt?: number; outcome: FollowOutcome };
  seedOnly: boolean;
}

function row(deviation: string, file: string, art: Artifact): Row {
  const f: ReproResult = reproduce(art, { attempts });
  const last = f.runs[f.runs.length - 1];
  const seedOnly = reproduce({ ...art, opSeqs: undefined, opEventNos: undefined }).reproduced;
  return {
    deviation, seed: art.seed, signature: art.signature, artifact: file,
    recordedOps: (art.programs ?? []).reduce((a, p) => a + p.length, 0),
    follow: { first: !!f.runs[0].hit, within: f.reproduced, attempt: f.reproduced ? last.attempt : undefined, outcome: f.runs[0].result.scheduler as unknown as FollowOutcome },
    seedOnly,
  };
}

mkdirSync(out, { recursive: true });
const rows: Row[] = [];
const nextSeed = new Map<string, number>();
const t0 = performance.now();
// first pass: up to `per` failures of every deviation; then top up from those that fail, round-robin
for (let pass = 0; rows.length < target && pass < 3; pass++) {
  let found = 0;
  for (const d of deviations) {
    const want = Math.min(per, target - rows.length);
    if (want <= 0) break;
    if (pass > 0 && !rows.some((r) => r.deviation === d)) continue;
    const { cfg, vs, next } = await collect(d, want, nextSeed.get(d) ?? 1);
    nextSeed.set(d, next);
    for (const v of vs) {
      const dir = join(out, d);
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `seed-${v.seed}.json`);
      writeAtomic(file, JSON.stringify(makeArtifact({ ...cfg, seed: v.seed }, v, file), null, 1) + '\n');
      const r = row(d, file, loadArtifact(file));
      rows.push(r);
      found++;
      const o = r.follow.outcome;
      console.log(`${d.padEnd(26)} seed ${String(r.seed).padStart(5)}  ${r.follow.first ? 'yes' : r.follow.within ? `yes@${r.follow.attempt}` : 'no '}  seed-only ${r.seedOnly ? 'yes' : 'no '}  ${r.signature}  ` +
        `(ops ${o.ops.inOrder}/${o.ops.started} in order of ${o.ops.recorded}, window ${o.events.matched}/${o.events.recorded} matched)`);
    }
  }
  if (!found) break;
}

const byDev = deviations.map((d) => {
  const rs = rows.filter((r) => r.deviation === d);
  return { deviation: d, failures: rs.length, followFirst: rs.filter((r) => r.follow.first).length, followWithin: rs.filter((r) => r.follow.within).length, seedOnly: rs.filter((r) => r.seedOnly).length };
});
const total = { failures: rows.length, followFirst: rows.filter((r) => r.follow.first).length, followWithin: rows.filter((r) => r.follow.within).length, seedOnly: rows.filter((r) => r.seedOnly).length };
console.log(`\n${'deviation'.padEnd(26)} failures  follow(1st)  follow(<=${attempts})  seed-only`);
for (const b of [...byDev, { deviation: 'total', ...total }]) console.log(`${b.deviation.padEnd(26)} ${String(b.failures).padStart(8)}  ${String(b.followFirst).padStart(11)}  ${String(b.followWithin).padStart(11)}  ${String(b.seedOnly).padStart(9)}`);
console.log(`(${((performance.now() - t0) / 1000).toFixed(0)} s; artifacts and threads-repro.json in ${out})`);
writeAtomic(join(out, 'threads-repro.json'), JSON.stringify({ attempts, budget, per, target, ringSize: base.ringSize, byDeviation: byDev, total, rows }, null, 2) + '\n');
