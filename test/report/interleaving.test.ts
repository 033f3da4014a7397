// The interleaving view: an event log leaves the run unchanged; rows sit in their CPU's column, in
// kernel terms, and the violation comes last.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultConfig } from '../../src/config/config.js';
import { runSched } from '../../src/engine/sched.js';
import { EV, NOTE_LOCK_PTL, NOTE_LOCK_ZONE } from '../../src/machine/events.js';
import { ObservedScheduler } from '../../src/engine/schedulers/observed.js';
import { RandomScheduler } from '../../src/engine/schedulers/random.js';
import type { ViolationRecord } from '../../src/engine/result.js';
import { describe, EventLog, type LoggedEvent, renderInterleaving } from '../../src/report/interleaving.js';

const cfg = defaultConfig({ opsPerCpu: 20 });

test('event log: listening changes nothing in the run (the same trace hash); it hears PTL notes and touches, stamped with steps', () => {
  const plain = runSched(cfg, 7, { scheduler: new RandomScheduler(7) });
  const obs = new ObservedScheduler(new RandomScheduler(7));
  const log = new EventLog(obs);
  const heard = runSched(cfg, 7, { scheduler: obs, onEvent: log.hook, onNote: log.hook });
  assert.equal(heard.traceHash, plain.traceHash);
  assert.deepEqual(heard.events, plain.events, 'notes are never counted');
  const codes = new Set(log.events.map((e) => e.code));
  for (const c of [EV.NOTE_LOCK, EV.NOTE_UNLOCK, EV.NOTE_TOUCH, EV.OP_START]) assert.ok(codes.has(c), `no ${c}`);
  assert.ok(log.events.every((e, i) => i === 0 || e.step >= log.events[i - 1].step), 'in step order');
  assert.ok(log.events.at(-1)!.step <= heard.steps);
});

test('describe: kernel terms, addresses in hex; zone-lock notes and the violation event are left out', () => {
  const e = (code: number, a = 0, b = 0, c = 0): LoggedEvent => ({ step: 1, cpu: 0, op: 0, code, a, b, c });
  const ctx = { cfg };
  assert.equal(describe(e(EV.SCAN_ORDER + 4, 0x413), ctx), 'alloc_anon_folio: range 0x410000 +16p none, order 4');
  assert.equal(describe(e(EV.MAP_ANON + 2, 0x410, 2, 0x80), ctx), 'set_ptes 0x410000 x4 (order 2 folio, pfn 0x80)');
  assert.equal(describe(e(EV.RECHECK_RANGE_CHANGED + 4, 0x410, 4), ctx), 'recheck under PTL: range 0x410000 +16p changed');
  assert.equal(describe(e(EV.NOTE_LOCK, NOTE_LOCK_PTL, 2), ctx), 'spin_lock ptl(mm0 0x400000)');
  assert.equal(describe(e(EV.NOTE_LOCK, NOTE_LOCK_ZONE, 0), ctx), null);
  assert.equal(describe(e(EV.VIOLATION), ctx), null);
  assert.equal(describe(e(EV.FAULT, 0x410, 1), ctx), 'fault write 0x410000');
});

test('render: one column per CPU, the op row carries the touched range, the violation is the last row', () => {
  const ev = (step: number, cpu: number, op: number, code: number, a = 0, b = 0, c = 0): LoggedEvent => ({ step, cpu, op, code, a, b, c });
  const programs = [[{ kind: 'touch' as const, proc: 0, write: true, r1: 0, r2: 0, r3: 3 }], []];
  const events = [ev(2, 0, 0, EV.OP_START), ev(2, 0, 0, EV.NOTE_TOUCH, 0x410, 4, 1), ev(3, 1, 0, EV.FAULT, 0x411, 1), ev(3, 1, 0, EV.MAP_ANON, 0x411, 0, 9)];
  const v = { step: 5, cpu: -1, signature: 'rss-mismatch@quiescent[fault-no-recheck]', details: { mm: 0, rssAnon: 5, ptes: 4 } } as unknown as ViolationRecord;
  const lines = renderInterleaving(events, v, defaultConfig({ cpus: 2 }), { programs });
  assert.match(lines[0], /^ {2}step {2}CPU0 +CPU1$/);
  assert.match(lines[1], /^ {5}2 {2}op 0: touch write mm0 0x410000 \+4p$/);
  const cpu1 = lines[0].indexOf('CPU1');
  assert.equal(lines[2].indexOf('fault write 0x411000'), cpu1);
  assert.equal(lines[3].indexOf('set_ptes 0x411000 x1'), cpu1, 'the same step: no step number repeated');
  assert.match(lines[3], /^ +set_ptes/);
  assert.equal(lines.at(-1), '     5  VIOLATION rss-mismatch@quiescent[fault-no-recheck]: mm 0, rssAnon 5, ptes 4');
});
