// The PTL under real concurrency: two worker threads share one machine (SharedArrayBuffer) and
// increment a shared counter with a plain, non-atomic read-modify-write inside spin_lock/spin_unlock
// of the same PTL. With the lock no increment is lost; without it, updates are lost, which shows the
// test can fail. This file is also the workers' script: with workerData it runs the loop instead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { defaultConfig } from '../../../../src/config/config.js';
import { Cpu } from '../../../../src/machine/cpu.js';
import { drive } from '../../../../src/machine/gen.js';
import { spin_lock, spin_unlock } from '../../../../src/linux/kernel/locking/spinlock.js';
import { EV } from '../../../../src/machine/events.js';
import { buildMachine } from '../../../../src/check/machine.js';

interface Job {
  sab: SharedArrayBuffer; // the machine
  counter: SharedArrayBuffer; // [0] the shared counter, [1] start barrier
  cpu: number;
  iters: number;
  locked: boolean;
}

const cfg = defaultConfig({ cpus: 2 });
const WINDOW = 64; // busy-loop iterations between the read and the write of the counter

/** Worker side: iters increments of counter[0], each a load, a busy wait and a store. */
function worker(job: Job): { sink: number; contended: number } {
  const machine = buildMachine(cfg, job.sab);
  const cpu = new Cpu(machine, job.cpu, true, { step: 0 }, cfg);
  const ptl = machine.ptlOf(0);
  const c = new Int32Array(job.counter);
  // start together, so the two loops overlap
  Atomics.add(c, 1, 1);
  while (Atomics.load(c, 1) < 2) Atomics.wait(c, 1, 1, 5);
  Atomics.notify(c, 1);
  let sink = 0;
  for (let i = 0; i < job.iters; i++) {
    if (job.locked) drive(spin_lock(cpu, ptl));
    const v = c[0]; // plain load: no Atomics
    for (let k = 0; k < WINDOW; k++) sink = (sink + k) | 0;
    c[0] = v + 1; // plain store
    if (job.locked) spin_unlock(cpu, ptl);
  }
  return { sink, contended: cpu.counters[EV.PTL_CONTENDED] };
}

if (!isMainThread && workerData?.ptlTest) {
  parentPort!.postMessage(worker(workerData.job as Job));
}

/** Run two workers on one fresh machine: the final counter value and the contended lock takes. */
async function race(iters: number, locked: boolean): Promise<{ count: number; contended: number }> {
  const machine = buildMachine(cfg);
  const counter = new SharedArrayBuffer(8);
  const runs = [0, 1].map(
    (cpu) =>
      new Promise<number>((resolve, reject) => {
        const job: Job = { sab: machine.sab, counter, cpu, iters, locked };
        const w = new Worker(new URL(import.meta.url), { workerData: { ptlTest: true, job } });
        w.once('message', (r: { contended: number }) => resolve(r.contended));
        w.once('error', reject);
        w.once('exit', (code) => reject(new Error(`worker exited (${code}) without a result`)));
      }),
  );
  const contended = (await Promise.all(runs)).reduce((a, b) => a + b, 0);
  return { count: Atomics.load(new Int32Array(counter), 0), contended };
}

if (isMainThread) {
  test('PTL: two worker threads, non-atomic increments under spin_lock lose nothing', async (t) => {
    const iters = 20_000;
    const r = await race(iters, true);
    assert.equal(r.count, 2 * iters, `lost ${2 * iters - r.count} increments (${r.contended} contended lock takes)`);
    t.diagnostic(`locked: ${r.count} increments, ${r.contended} contended lock takes`);
  });

  test('without the PTL the same non-atomic increments lose updates (the test can fail)', async (t) => {
    // The two loops must overlap for a lost update; on a loaded machine one may run alone, so try
    // a few times. One lost update in any attempt is enough.
    const iters = 100_000;
    let best = 2 * iters;
    for (let attempt = 0; attempt < 5 && best === 2 * iters; attempt++) best = Math.min(best, (await race(iters, false)).count);
    assert.ok(best < 2 * iters, `no update was lost in 5 attempts (${best})`);
    t.diagnostic(`unlocked: ${best} of ${2 * iters} increments survived`);
  });
}
