// Run sched seeds of a config in this thread for a while, as a sched worker runs them, for `node --cpu-prof` (the bench's profile
// of the sched engine). Usage: node --cpu-prof dist/bench/profile-sched.js [CONFIG] [seconds]
import { fileURLToPath } from 'node:url';
import { loadConfigFile } from '../src/config/config.js';
import { computeLayout } from '../src/machine/layout.js';
import { MachineBuffers } from '../src/engine/worker-watch.js';
import schedTask from '../workers/sched-task.js';

const cfg = loadConfigFile(process.argv[2] ?? fileURLToPath(new URL('../../configs/smoke.json', import.meta.url)));
const secs = Number(process.argv[3] ?? 10);
const t0 = performance.now();
let steps = 0, seeds = 0;
const buffers = new MachineBuffers(); // as the coordinator gives a worker its machine buffers
const bytes = computeLayout(cfg).words * 4;
while (performance.now() - t0 < secs * 1000) {
  const sab = buffers.take(bytes);
  steps += schedTask({ cfg, seed: 1 + (seeds++ % 8), sab }).steps;
  buffers.give(sab);
}
console.log(`${seeds} seeds, ${steps} steps, ${(((performance.now() - t0) * 1e6) / steps).toFixed(0)} ns/step`);
