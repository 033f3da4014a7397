// Worker thread: counts the Atomics operations of one batch of each kernel path asked for, with the
// global Atomics wrapped (this isolate only; see bench/atomics-count.ts). The batch runs exactly as
// the timed one does: a fresh rig, one warm-up batch, then setup, the counted calls, reset.
import { parentPort, workerData } from 'node:worker_threads';
import { AtomicsCounter, type AtomicsTrace } from './atomics-count.js';
import { PATHS, PathRig, runBatch } from './paths.js';

const { ids } = workerData as { ids: string[] };
const counter = new AtomicsCounter();
counter.install();
const out: Record<string, AtomicsTrace> = {};
for (const id of ids) {
  const p = PATHS.find((x) => x.spec.id === id);
  if (!p) throw new Error(`atomics-count: no path ${id}`);
  const r = new PathRig(p.spec);
  runBatch(r, p.ops); // the state a timed batch starts from (after the first one)
  p.ops.setup(r);
  counter.reset(r.machine.m);
  const perCall: number[] = [];
  for (let k = 0; k < p.spec.calls; k++) {
    const before = counter.total;
    counter.on = true;
    p.ops.call(r, k);
    counter.on = false;
    perCall.push(counter.total - before);
  }
  p.ops.reset(r);
  out[id] = { calls: p.spec.calls, idx: counter.idx, perCall, other: counter.other };
}
parentPort!.postMessage(out);
