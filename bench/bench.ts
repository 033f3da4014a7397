// npm run bench: throughput of both engines on the smoke config, as per-operation costs and rates
// (never asserted in tests: machines are noisy). Usage: node dist/bench/bench.js [seconds-per-part]
import { loadConfigFile } from '../src/config.js';
import { runSched } from '../src/engine/sched.js';
import { fileURLToPath } from 'node:url';
import { runThreads } from '../src/engine/threads.js';

const secs = Number(process.argv[2] ?? 10);
const cfg = loadConfigFile(fileURLToPath(new URL('../../configs/smoke.json', import.meta.url)));

function benchSched(): Record<string, number> {
  let steps = 0, faults = 0, seeds = 0, ops = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < secs * 1000) {
    const r = runSched(cfg, 1 + seeds++);
    steps += r.steps;
    faults += r.events['fault.anon'] ?? 0;
    ops += Object.values(r.ops).reduce((a, b) => a + b, 0);
  }
  const s = (performance.now() - t0) / 1000;
  return { seconds: s, seeds, stepsPerSecondPerWorker: steps / s, nsPerStep: (s * 1e9) / steps, anonFaultsPerSecond: faults / s, opsPerSecond: ops / s };
}

async function benchThreads(): Promise<Record<string, number> | string> {
  try {
    const workers = 2;
    const t0 = performance.now();
    const rs = await runThreads({ ...cfg, engine: 'threads' }, { seeds: null, durationSec: secs, workers });
    const s = (performance.now() - t0) / 1000;
    const faults = rs.reduce((a, r) => a + (r.events['fault.anon'] ?? 0), 0);
    const ops = rs.reduce((a, r) => a + Object.values(r.ops).reduce((x, y) => x + y, 0), 0);
    return { seconds: s, rounds: rs.length, workers, anonFaultsPerSecondPerThread: faults / s / workers, opsPerSecond: ops / s };
  } catch (e) {
    return `threads engine unavailable: ${(e as Error).message}`;
  }
}

const sched = benchSched();
const threads = await benchThreads();
const out = { config: 'configs/smoke.json', secondsPerPart: secs, sched, threads };
const f = (n: number) => (n >= 100 ? Math.round(n).toLocaleString('en') : n.toFixed(2));
console.log(`sched   (1 worker, ${sched.seeds} seeds): ${f(sched.stepsPerSecondPerWorker)} steps/s per worker (${f(sched.nsPerStep)} ns/step), ${f(sched.anonFaultsPerSecond)} anon faults/s`);
if (typeof threads === 'string') console.log(`threads: ${threads}`);
else console.log(`threads (${threads.workers} threads, ${threads.rounds} rounds): ${f(threads.anonFaultsPerSecondPerThread)} anon faults/s per thread, ${f(threads.opsPerSecond)} ops/s`);
console.log(JSON.stringify(out));
