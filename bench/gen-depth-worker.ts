// Worker thread: the mean generator delegation depth of a sched step. Generator.prototype.next is
// wrapped (this isolate only: a wrapped next slows every generator after it) to track how many
// generators are resuming at once; a step's depth is the most at any moment of its next() call
// from the scheduler (1: the op's own generator yielded; 5: four nested yield* down).
import { parentPort, workerData } from 'node:worker_threads';
import type { Config } from '../src/config/config.js';
import { runSched } from '../src/engine/sched.js';

const { cfg, seed } = workerData as { cfg: Config; seed: number };
const proto = Object.getPrototypeOf(function* () {}).prototype as Generator;
const next = proto.next;
let cur = 0, max = 0, steps = 0, depthSum = 0;
proto.next = function (this: Generator, ...a: [] | [unknown]) {
  cur++;
  if (cur > max) max = cur;
  try {
    return next.apply(this, a);
  } finally {
    cur--;
    if (cur === 0) {
      steps++;
      depthSum += max;
      max = 0;
    }
  }
};
runSched(cfg, seed);
parentPort!.postMessage(steps ? depthSum / steps : 1);
