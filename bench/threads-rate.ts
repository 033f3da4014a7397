// Throughput of the threads engine: 2 worker threads (= 2 simulated CPUs) for N seconds on the
// default config, round after round.
// Usage: node dist/bench/threads-rate.js [seconds] [workers] [continuous|shared (observer pace)]
// Prints anon faults per second per thread, ops per second, and the lost-race event counts.
import { defaultConfig } from '../src/config/config.js';
import { runThreads, type ObserverPace } from '../src/engine/threads.js';

const secs = Number(process.argv[2] ?? 10);
const workers = Number(process.argv[3] ?? 2);
const observer = process.argv[4] as ObserverPace | undefined;
const cfg = defaultConfig({ engine: 'threads', workers });
const t0 = performance.now();
const rs = await runThreads(cfg, { seeds: null, durationSec: secs, workers, observer });
const s = (performance.now() - t0) / 1000;

const sum = (pick: (ev: Record<string, number>) => number) => rs.reduce((a, r) => a + pick(r.events), 0);
const prefixed = (p: string) => (ev: Record<string, number>) => Object.entries(ev).reduce((a, [k, v]) => a + (k.startsWith(p) ? v : 0), 0);
const faults = sum((e) => e['fault.anon'] ?? 0);
const ops = rs.reduce((a, r) => a + Object.values(r.ops).reduce((x, y) => x + y, 0), 0);
const out = {
  seconds: +s.toFixed(2),
  workers,
  observer: observer ?? 'default',
  rounds: rs.length,
  violations: rs.reduce((a, r) => a + r.violations.length, 0),
  anonFaultsPerSecondPerThread: Math.round(faults / s / workers),
  opsPerSecond: Math.round(ops / s),
  anonFaults: faults,
  ops,
  recheckPteChanged: sum((e) => e['anon.recheckPteChanged'] ?? 0),
  recheckRangeChanged: sum(prefixed('anon.recheckRangeChanged.')),
  refault: sum((e) => e['anon.refault'] ?? 0),
  ptlContended: sum((e) => e['ptl.contended'] ?? 0),
};
console.log(`threads (${workers} threads, ${out.rounds} rounds, ${out.seconds}s): ${out.anonFaultsPerSecondPerThread} anon faults/s per thread, ${out.opsPerSecond} ops/s, ${out.violations} violations`);
console.log(JSON.stringify(out));
for (const r of rs) for (const v of r.violations) console.log(`violation seed ${v.seed}: ${v.signature} ${JSON.stringify(v.details)}`);
