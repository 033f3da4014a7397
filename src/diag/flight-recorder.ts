// Reading the flight recorder (tool side): each CPU's ring of its last ringSize events, which the
// CPU writes as it records them (Cpu.ev, src/machine/cpu.ts). Artifacts, hang and crash reports,
// the follow scheduler and the instrument check read it from here.
import type { Machine } from '../machine/machine.js';
import { CPU, RING_WORDS } from '../machine/layout.js';
import { EV_NAMES } from '../machine/events.js';

export interface RingEvent {
  seq: number;
  /** this CPU's event number (0: its first event of the run); ops start at the numbers of OpLog.eventNos */
  n: number;
  cpu: number;
  event: string;
  a: number;
  b: number;
  c: number;
  step: number;
}

/**
 * Read one CPU's flight recorder, oldest first: its last min(events, ringSize) events. In the
 * threads engine a ring may be read while its CPU still runs: the slot being written may still
 * hold an old event, and the oldest slots may already hold new ones; only the longest run of
 * events with ascending sequence numbers is kept (a quiet ring reads whole).
 */
export function readRing(machine: Machine, cpu: number): RingEvent[] {
  const { m, L } = machine;
  const count = m[machine.cpuWord(cpu, CPU.RING_POS)];
  const out: RingEvent[] = [];
  for (let n = Math.max(0, count - L.ringSize); n < count; n++) {
    const r = L.ring + (cpu * L.ringSize + (n % L.ringSize)) * RING_WORDS;
    out.push({ seq: m[r], n, cpu, event: EV_NAMES[m[r + 1]] ?? String(m[r + 1]), a: m[r + 2], b: m[r + 3], c: m[r + 4], step: m[r + 5] });
  }
  return ascendingRun(out);
}

/** The longest run of consecutive events (by n) with ascending sequence numbers. */
export function ascendingRun<E extends Pick<RingEvent, 'seq' | 'n'>>(events: readonly E[]): E[] {
  let from = 0, to = 0;
  for (let i = 0; i < events.length; ) {
    let j = i + 1;
    while (j < events.length && events[j].n === events[j - 1].n + 1 && events[j].seq > events[j - 1].seq) j++;
    if (j - i > to - from) (from = i), (to = j);
    i = j;
  }
  return events.slice(from, to);
}
