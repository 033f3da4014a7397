// Run one kernel path's batches for a while, for `node --cpu-prof` (the bench's profile of a path).
// Usage: node --cpu-prof --cpu-prof-dir DIR dist/bench/profile-path.js PATH-ID [seconds]
import { PATHS, PathRig, runBatch } from './paths.js';

const id = process.argv[2];
const secs = Number(process.argv[3] ?? 5);
const p = PATHS.find((x) => x.spec.id === id);
if (!p) throw new Error(`no path ${id}; one of ${PATHS.map((x) => x.spec.id).join(', ')}`);
const r = new PathRig(p.spec);
const t0 = performance.now();
let n = 0;
while (performance.now() - t0 < secs * 1000) n += runBatch(r, p.ops) >= 0 ? 1 : 0;
console.log(`${id}: ${n} batches of ${p.spec.calls} calls`);
