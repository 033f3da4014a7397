import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PctScheduler, pctGuarantee } from '../../../src/engine/schedulers/pct.js';
import { SchedLoop, runSched } from '../../../src/engine/sched.js';
import { type Gen, P } from '../../../src/machine/gen.js';
import { defaultConfig } from '../../../src/config/config.js';
import { boot } from '../../helpers/machine.js';

/** The CPUs PCT picks over `steps` steps with every CPU always runnable. */
function picks(seed: number, depth: number, k: number, ncpus: number, steps: number): number[] {
  const s = new PctScheduler(seed, depth, k);
  s.start(ncpus);
  const all = Array.from({ length: ncpus }, (_, i) => i);
  return Array.from({ length: steps }, (_, i) => s.pick(all, i));
}

test('pct: depth 1 has no change point: the highest-priority CPU runs every step', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const p = picks(seed, 1, 100, 3, 100);
    assert.equal(new Set(p).size, 1, `seed ${seed}: ${[...new Set(p)]}`);
  }
});

test('pct: depth d gives d-1 change points in [1, k]; each one hands the CPU over at that step', () => {
  for (let seed = 1; seed <= 30; seed++) {
    const s = new PctScheduler(seed, 4, 50);
    s.start(3);
    const cps = s.changePoints();
    assert.equal(cps.length, 3);
    assert.deepEqual(cps.map(([, prio]) => prio).sort(), [1, 2, 3], 'the i-th change point drops to priority d-i');
    for (const [at] of cps) assert.ok(at >= 1 && at <= 50);
    // with every CPU runnable, the running CPU changes only right after a change point
    const p = picks(seed, 4, 50, 3, 50);
    const at = new Set(cps.map(([a]) => a));
    for (let i = 1; i < p.length; i++) if (p[i] !== p[i - 1]) assert.ok(at.has(i), `seed ${seed}: switch before step ${i + 1} without a change point at ${i}`);
  }
});

test('pct: the same seed gives the same priorities and change points; seeds differ', () => {
  assert.deepEqual(picks(7, 3, 40, 4, 40), picks(7, 3, 40, 4, 40));
  const distinct = new Set(Array.from({ length: 20 }, (_, s) => picks(s, 3, 40, 4, 40).join(',')));
  assert.ok(distinct.size > 10, `only ${distinct.size} distinct schedules in 20 seeds`);
});

test('pct: a blocked CPU is skipped for the highest runnable one', () => {
  const s = new PctScheduler(3, 1, 10);
  s.start(3);
  const top = s.pick([0, 1, 2], 0);
  const others = [0, 1, 2].filter((c) => c !== top);
  const second = s.pick(others, 1);
  assert.ok(others.includes(second));
  assert.equal(s.pick([0, 1, 2], 2), top, 'back to the top CPU when it can run');
});

test('pct: the guarantee is 1/(n*k^(d-1)) and the runs for 99% confidence follow from it', () => {
  const g = pctGuarantee(3, 2, 10);
  assert.equal(g.probability, 1 / 200);
  assert.equal(g.runsFor99, Math.ceil(Math.log(0.01) / Math.log(1 - 1 / 200)));
  assert.equal(g.runsFor99, 919);
  assert.equal(pctGuarantee(1, 4, 1000).probability, 1 / 4);
  assert.equal(pctGuarantee(2, 1, 1).runsFor99, 1);
  // tiny probabilities keep their precision
  assert.ok(Math.abs(pctGuarantee(3, 3, 1e6).runsFor99 / (4.60517 * 3e12) - 1) < 1e-4);
});

/**
 * A depth-2 bug: CPU0 reads x, yields, writes x+1 (a lost update if CPU1's whole increment runs in
 * between). PCT with d=2 finds it with probability >= 1/(n*k) per run; over many seeds it must,
 * and at least at that rate.
 */
test('pct: finds a depth-2 lost update at no less than its guaranteed rate', () => {
  let found = 0;
  const runs = 400;
  let k = 0;
  for (let seed = 1; seed <= runs; seed++) {
    const h = boot({ cpus: 2 }, { process: false });
    let x = 0;
    function* incr(): Gen<void> {
      yield P.OP;
      const v = x;
      yield P.PTE_READ;
      x = v + 1;
      yield P.OP;
    }
    const sources = [0, 1].map(() => {
      let given = false;
      return () => (given ? null : ((given = true), incr()));
    });
    // k = the steps of one run: 2 CPUs x (3 yields + the final next) + 2 picks that find the source spent
    k = 10;
    const loop = new SchedLoop(h.machine, h.cpus, sources, new PctScheduler(seed, 2, k), h.clock, null, false);
    loop.run();
    if (x !== 2) found++;
  }
  const g = pctGuarantee(2, 2, k);
  assert.ok(found / runs >= g.probability, `found ${found}/${runs}, bound ${g.probability}`);
});

test('pct: runSched measures the step estimate once and records it; same seed, same run', () => {
  const cfg = defaultConfig({ scheduler: 'pct', opsPerCpu: 40 });
  const a = runSched(cfg, 5);
  const b = runSched(cfg, 5);
  assert.equal(a.traceHash, b.traceHash);
  const withK = runSched({ ...cfg, pctSteps: 12345 }, 5);
  assert.notEqual(withK.traceHash, a.traceHash, 'the estimate shapes the schedule');
});
