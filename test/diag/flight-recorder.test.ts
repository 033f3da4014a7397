// Reading the flight recorder (src/diag/flight-recorder.ts): a CPU's last min(events, ringSize)
// events oldest first, numbered by the CPU's event count; a ring read while it is written keeps
// only its longest run of ascending sequence numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boot } from '../helpers/machine.js';
import { EV } from '../../src/machine/events.js';
import { ascendingRun, readRing } from '../../src/diag/flight-recorder.js';

test('readRing: before the ring wraps every event, after it the last ringSize, oldest first, with their numbers and arguments', () => {
  const h = boot({ cpus: 2, ringSize: 16 }, { process: false });
  const [a, b] = h.cpus;
  for (let i = 0; i < 5; i++) a.ev(EV.FAULT, i, 2 * i, 3 * i);
  b.ev(EV.MMAP, 7);
  let r = readRing(h.machine, 0);
  assert.deepEqual(r.map((e) => [e.n, e.event, e.a, e.b, e.c, e.cpu]), [0, 1, 2, 3, 4].map((i) => [i, 'fault', i, 2 * i, 3 * i, 0]));
  assert.deepEqual(readRing(h.machine, 1).map((e) => [e.n, e.event, e.a, e.seq]), [[0, 'mmap', 7, 5]]);
  for (let i = 5; i < 40; i++) a.ev(EV.FAULT, i);
  r = readRing(h.machine, 0);
  const last16 = Array.from({ length: 16 }, (_, i) => 24 + i);
  assert.deepEqual(r.map((e) => e.n), last16);
  assert.deepEqual(r.map((e) => e.a), last16);
  assert.ok(r.every((e, i) => i === 0 || e.seq > r[i - 1].seq));
});

test('ascendingRun: the longest run of consecutive numbers with ascending sequence numbers (a slot overwritten mid-read breaks a run)', () => {
  const ev = (n: number, seq: number) => ({ n, seq });
  assert.deepEqual(ascendingRun([ev(0, 10), ev(1, 11), ev(2, 5), ev(3, 12), ev(4, 13), ev(5, 14)]), [ev(2, 5), ev(3, 12), ev(4, 13), ev(5, 14)]);
  assert.deepEqual(ascendingRun([ev(0, 1), ev(2, 2), ev(3, 3)]), [ev(2, 2), ev(3, 3)]);
  assert.deepEqual(ascendingRun([]), []);
});
