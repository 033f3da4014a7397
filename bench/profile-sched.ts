// Run sched seeds of a config in this thread for a while, for `node --cpu-prof` (the bench's profile
// of the sched engine). Usage: node --cpu-prof dist/bench/profile-sched.js [CONFIG] [seconds]
import { fileURLToPath } from 'node:url';
import { loadConfigFile } from '../src/config.js';
import { runSched } from '../src/engine/sched.js';

const cfg = loadConfigFile(process.argv[2] ?? fileURLToPath(new URL('../../configs/smoke.json', import.meta.url)));
const secs = Number(process.argv[3] ?? 10);
const t0 = performance.now();
let steps = 0, seeds = 0;
while (performance.now() - t0 < secs * 1000) steps += runSched(cfg, 1 + (seeds++ % 8)).steps;
console.log(`${seeds} seeds, ${steps} steps, ${(((performance.now() - t0) * 1e6) / steps).toFixed(0)} ns/step`);
