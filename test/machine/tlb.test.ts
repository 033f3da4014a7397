// TLB cost accounting: every invalidation is counted by kind against the operation that ran it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COST_BASE, COST_KINDS, COST_OPS } from '../../src/machine/events.js';
import type { Cpu } from '../../src/machine/cpu.js';
import { dup_mm } from '../../src/linux/kernel/fork.js';
import { boot, mapAnon, run, writePage } from '../helpers/machine.js';
import { buildSummary } from '../../src/report/summary.js';
import { Aggregate } from '../../src/report/aggregate.js';
import { EV_NAMES } from '../../src/machine/events.js';
import { HistSet } from '../../src/machine/histograms.js';

const cost = (cpu: Cpu, op: string, kind: string): number =>
  cpu.counters[COST_BASE + COST_OPS.indexOf(op as never) * COST_KINDS.length + COST_KINDS.indexOf(kind as never)];

test('a COW copy counts one single-page invalidation against faults; fork one full-mm flush against fork', () => {
  const h = boot({ cpus: 1, anonOrders: [0] });
  const cpu = h.cpus[0];
  mapAnon(h, 1024, 4);
  cpu.curOp = 'touch';
  writePage(h, 0, 0, 1024);
  assert.equal(cost(cpu, 'fault', 'tlbiPage'), 0, 'a fresh anon fault flushes nothing');
  cpu.curOp = 'fork';
  const child = run(h, 0, dup_mm(cpu, 0));
  assert.ok(child > 0);
  assert.equal(cost(cpu, 'fork', 'tlbiMm'), 1);
  assert.equal(cost(cpu, 'fork', 'tlbiRange'), 0);
  cpu.curOp = 'touch';
  writePage(h, 0, 0, 1024); // write fault on the now read-only, shared page: wp_page_copy flushes one page
  assert.equal(cost(cpu, 'fault', 'tlbiPage'), 1);

  // and the summary reports it per operation
  const agg = new Aggregate('steps');
  const events: Record<string, number> = {};
  cpu.counters.forEach((v, i) => { if (v) events[EV_NAMES[i]] = v; });
  agg.add({ seed: 1, engine: 'sched', steps: 0, ops: { fork: 1 }, events, hist: new HistSet('steps').encode(), violations: [], wallMs: 0 });
  const s = buildSummary(h.cfg, agg, { runId: 'x', version: '0', wallSeconds: 0, interrupted: false });
  assert.equal(s.tlb.byOp.fork.tlbiMm, 1);
  assert.equal(s.tlb.byOp.fork.tlbiPerOp, 1);
  assert.equal(s.tlb.byOp.fault.tlbiPage, 1);
});
