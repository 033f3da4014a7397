// One simulated CPU: the context every kernel path runs with. It owns the CPU's counters,
// histograms and flight recorder, knows how to block (sched) or spin (threads), and raises
// violations. The same class serves both engines.
import type { Config } from '../config.js';
import { Machine } from '../model/machine.js';
import { CPU, G, RING_WORDS, RW_SLOTS } from '../model/layout.js';
import { COST_BASE, COST_KINDS, EV, EV_COUNT, EV_NAMES, costOpIndex } from './events.js';
import { HistSet } from '../report/histograms.js';
import { Injections, injectionsFrom } from '../inject/deviations.js';
import { TraceHash } from './trace.js';
import { opCode } from './hang.js';

export class Violation extends Error {
  constructor(
    readonly invariant: string,
    readonly path: string,
    readonly details: Record<string, unknown>,
    readonly cpu: number,
  ) {
    super(`${invariant} in ${path}: ${JSON.stringify(details)}`);
    this.name = 'Violation';
  }
}

/**
 * A violation's signature, the key duplicates are grouped by: invariant, kernel path, and the
 * deviations switched on (the same invariant broken by two different mutants is two findings).
 */
export function signatureOf(invariant: string, path: string, inject: readonly string[]): string {
  return inject.length ? `${invariant}@${path}[${inject.join('+')}]` : `${invariant}@${path}`;
}

export type EventHook = (cpu: number, code: number, a: number, b: number, c: number) => void;

/** The engine-side clock and step counter (sched) shared by all CPUs of one machine. */
export interface Clock {
  step: number;
}

export class Cpu {
  readonly m: Int32Array;
  readonly counters = new Float64Array(EV_COUNT);
  readonly hist: HistSet;
  readonly inj: Injections;
  /** sched: non-null while blocked; the scheduler resumes the CPU once it returns true. */
  waitFor: (() => boolean) | null = null;
  /** What the CPU is blocked on, for hang reports: its name, and the lock's word (-1: none). */
  waitWhat: string = '';
  waitOff = -1;
  blockedSince = 0;
  /** Locks held: offset and acquire time, for hold histograms and hang reports. */
  readonly held: { off: number; kind: string; at: number; own: number }[] = [];
  /**
   * sched: the steps this CPU has run (the scheduler counts them). A hold's deadline is measured in
   * the holder's own steps: a holder the scheduler does not pick (PCT starves low priorities) is
   * not hanging, a holder that keeps running with the lock held is.
   */
  steps = 0;
  /**
   * Why this CPU's last fault returned without mapping the page (set where a fault gives up, cleared
   * when a fault begins): the reason, and the entry it found (vpn, PTE value; -1/0 when none), for
   * the fault-livelock report.
   */
  faultMiss = '';
  faultMissVpn = -1;
  faultMissPte = 0;
  /** sched: this CPU's own step count when it took the semaphore in each RW_HELD slot. */
  readonly rwOwn: number[] = new Array<number>(RW_SLOTS).fill(0);
  private op = '';
  private costRow = COST_BASE + costOpIndex('') * COST_KINDS.length;
  /** The operation currently running (for reports, and the bucket cost() counts into). */
  get curOp(): string {
    return this.op;
  }
  set curOp(name: string) {
    this.op = name;
    this.costRow = COST_BASE + costOpIndex(name) * COST_KINDS.length;
    Atomics.store(this.m, this.machine.cpuWord(this.id, CPU.OP), opCode(name)); // for hang reports from any thread
  }
  /** When a hold or wait begins, in the unit of hang reports: the scheduler step (sched) or G.SEQ (threads). */
  stamp(): number {
    return this.threaded ? Atomics.load(this.m, this.machine.L.global + G.SEQ) : this.clock.step;
  }
  /** Count a TLB invalidation or a contpte fold/unfold (COST.*) against the running operation. */
  cost(kind: number, n = 1): void {
    this.counters[this.costRow + kind] += n;
  }
  trace: TraceHash | null = null;
  /** sched: folios whose refcount/mapcount changed this step, for the observer. */
  readonly touched: number[] = [];
  /**
   * arch contpte: first entry words of the 16-entry blocks the arch layer changed under a PTL; the
   * blocks of a PTL's table are checked and dropped when that PTL is released (check/contpte.ts).
   */
  readonly contTouched: number[] = [];
  private readonly t0 = performance.now();

  constructor(
    readonly machine: Machine,
    readonly id: number,
    readonly threaded: boolean,
    readonly clock: Clock,
    readonly cfg: Config = machine.cfg,
  ) {
    this.m = machine.m;
    this.hist = new HistSet(threaded ? 'ns' : 'steps');
    this.inj = injectionsFrom(cfg.inject);
  }

  /** Latency clock: scheduler steps (sched) or nanoseconds (threads). */
  now(): number {
    return this.threaded ? (performance.now() - this.t0) * 1e6 : this.clock.step;
  }

  noteFolio(folio: number): void {
    if (!this.threaded) this.touched.push(folio);
  }

  /** Record an event: counters, flight recorder, trace hash. */
  ev(code: number, a = 0, b = 0, c = 0): void {
    this.counters[code]++;
    const m = this.m;
    const L = this.machine.L;
    const posW = this.machine.cpuWord(this.id, CPU.RING_POS);
    const pos = m[posW];
    m[posW] = (pos + 1) % L.ringSize;
    const r = L.ring + (this.id * L.ringSize + pos) * RING_WORDS;
    m[r] = Atomics.add(m, L.global + G.SEQ, 1);
    m[r + 1] = code;
    m[r + 2] = a;
    m[r + 3] = b;
    m[r + 4] = c;
    m[r + 5] = this.threaded ? 0 : this.clock.step;
    if (this.trace) this.trace.mix4(code, a, b, c);
    if (this.evHook !== null) this.evHook(this.id, code, a, b, c);
  }

  /** sched: told of every event as it is recorded (a scheduler that follows events, an event log). */
  evHook: EventHook | null = null;

  /**
   * Tell an observer (the interleaving view) something no counter, flight recorder or trace hash
   * needs (EV.NOTE_*): one null check when nobody listens.
   */
  note(code: number, a = 0, b = 0, c = 0): void {
    if (this.noteHook !== null) this.noteHook(this.id, code, a, b, c);
  }
  noteHook: EventHook | null = null;

  /** Raise a violation: the engine records it and stops the run. */
  violation(invariant: string, path: string, details: Record<string, unknown>): never {
    this.ev(EV.VIOLATION);
    throw new Violation(invariant, path, details, this.id);
  }

  stopRequested(): boolean {
    return Atomics.load(this.m, this.machine.L.global + G.STOP) !== 0;
  }

  counterMap(): Record<string, number> {
    const out: Record<string, number> = {};
    for (let i = 0; i < EV_COUNT; i++) if (this.counters[i]) out[EV_NAMES[i]] = this.counters[i];
    return out;
  }
}

export interface RingEvent {
  seq: number;
  cpu: number;
  event: string;
  a: number;
  b: number;
  c: number;
  step: number;
}

/** Read one CPU's flight recorder, oldest first. */
export function readRing(machine: Machine, cpu: number): RingEvent[] {
  const { m, L } = machine;
  const pos = m[machine.cpuWord(cpu, CPU.RING_POS)];
  const out: RingEvent[] = [];
  for (let i = 0; i < L.ringSize; i++) {
    const slot = (pos + i) % L.ringSize;
    const r = L.ring + (cpu * L.ringSize + slot) * RING_WORDS;
    if (m[r + 1] === 0 && m[r] === 0 && m[r + 5] === 0) continue;
    out.push({ seq: m[r], cpu, event: EV_NAMES[m[r + 1]] ?? String(m[r + 1]), a: m[r + 2], b: m[r + 3], c: m[r + 4], step: m[r + 5] });
  }
  return out;
}
