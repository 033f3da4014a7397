// One simulated CPU: the context every kernel path runs with. It owns the CPU's counters,
// histograms and flight recorder, knows how to block (sched) or spin (threads), and raises
// violations. The same class serves both engines.
import type { MachineConfig } from './params.js';
import { Machine } from './machine.js';
import { CPU, G, RING_WORDS, RW_SLOTS } from './layout.js';
import { EV, EV_COUNT, EV_NAMES } from './events.js';
import { HistSet } from './histograms.js';
import { type Injections, injectionsFrom } from './deviations.js';
import { TraceHash } from './trace.js';
import { rng } from './rng.js';
import { GENERATORS } from './gen.js';

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

/** The seeded stream a CPU's allocFailRate draws come from: a function of (seed, cpu) only. */
export function allocFailStream(seed: number, cpu: number): () => number {
  return rng(seed, `cpu${cpu}/allocFail`);
}

/** The seeded stream a CPU's memcgFailRate draws come from: a function of (seed, cpu) only. */
export function memcgFailStream(seed: number, cpu: number): () => number {
  return rng(seed, `cpu${cpu}/memcgFail`);
}

export class Cpu {
  readonly m: Int32Array;
  readonly counters = new Float64Array(EV_COUNT);
  readonly hist: HistSet;
  readonly inj: Injections;
  /** sched: non-null while blocked; the scheduler resumes the CPU once it returns true. */
  waitFor: (() => boolean) | null = null;
  /**
   * What the CPU is blocked on, for hang reports (src/diag/hang.ts names it): the lock's word, and
   * for a semaphore whether it asked for write; a wait not on a lock word (waitOff -1) names itself
   * in waitWhat ("folio_lock").
   */
  waitOff = -1;
  waitWrite = false;
  waitWhat: string = '';
  blockedSince = 0;
  /** Locks held: offset and acquire time, for hold histograms and hang reports. */
  readonly held: { off: number; kind: string; hold: string; at: number; own: number }[] = [];
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
  /** Did this CPU's last mmu_translate go through a TLB entry without walking the table? */
  tlbHit = false;
  /**
   * The PTE words this CPU's kernel paths wrote since it last held no PTL: [pteLo, pteHi] (empty:
   * pteLo > pteHi). The checker looks at the part inside a table when that table's PTL is released.
   */
  pteLo = Infinity;
  pteHi = -1;
  /** Kernel code wrote PTE words [ptep, ptep + n) (the raw PTE writers call it). */
  notePteWrite(ptep: number, n: number): void {
    if (ptep < this.pteLo) this.pteLo = ptep;
    if (ptep + n - 1 > this.pteHi) this.pteHi = ptep + n - 1;
  }
  /** sched: this CPU's own step count when it took the semaphore in each RW_HELD slot. */
  readonly rwOwn: number[] = new Array<number>(RW_SLOTS).fill(0);
  private op = '';
  /** The counter index cost() counts from: the running operation's cost bucket (machine.opCodes). */
  private costRow: number;
  /** The operation currently running (for reports, and the bucket cost() counts into). */
  get curOp(): string {
    return this.op;
  }
  set curOp(name: string) {
    this.op = name;
    const codes = this.machine.opCodes(name); // the tool's classification of the name
    this.costRow = codes.cost;
    Atomics.store(this.m, this.machine.cpuWord(this.id, CPU.OP), codes.op); // for hang reports from any thread
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
  private readonly t0 = performance.now();
  /**
   * The stream cfg.allocFailRate draws from (one per CPU). The engines seed it from the run's seed
   * (allocFailStream); a CPU they did not seed (a helper) falls back to the config's seed.
   */
  allocFailRand: (() => number) | null = null;
  /** allocFailRate: does this order > 0 allocation attempt fail? No draw at all when the rate is absent or 0. */
  allocFails(): boolean {
    const rate = this.cfg.allocFailRate;
    return !!rate && (this.allocFailRand ??= allocFailStream(this.cfg.seed, this.id))() < rate;
  }
  /** The stream cfg.memcgFailRate draws from (one per CPU), seeded as allocFailRand. */
  memcgFailRand: (() => number) | null = null;
  /** memcgFailRate: does this memory cgroup charge fail? No draw at all when the rate is absent or 0. */
  memcgChargeFails(): boolean {
    const rate = this.cfg.memcgFailRate;
    return !!rate && (this.memcgFailRand ??= memcgFailStream(this.cfg.seed, this.id))() < rate;
  }
  /** The word holding this CPU's event count (CPU.RING_POS). */
  private readonly posW: number;

  constructor(
    readonly machine: Machine,
    readonly id: number,
    readonly threaded: boolean,
    readonly clock: Clock,
    readonly cfg: MachineConfig = machine.cfg,
    /** The histograms to record into (sched: one set for every CPU of the machine, as adding theirs up would give); default a set of its own. */
    hist?: HistSet,
  ) {
    if (!threaded && !GENERATORS) throw new Error('the threads build of the kernel paths (no generators) runs threaded CPUs only');
    this.m = machine.m;
    this.costRow = machine.opCodes('').cost;
    this.posW = machine.cpuWord(id, CPU.RING_POS);
    this.hist = hist ?? new HistSet(threaded ? 'ns' : 'steps');
    this.inj = injectionsFrom(cfg.inject);
  }

  /** Latency clock: scheduler steps (sched) or nanoseconds (threads). */
  now(): number {
    return this.threaded ? (performance.now() - this.t0) * 1e6 : this.clock.step;
  }

  noteFolio(folio: number): void {
    if (!this.threaded) this.touched.push(folio);
  }

  /** Record an event: counters, flight recorder, trace hash. Returns its global sequence number. */
  ev(code: number, a = 0, b = 0, c = 0): number {
    this.counters[code]++;
    const m = this.m;
    const L = this.machine.L;
    const posW = this.posW;
    const n = m[posW];
    m[posW] = n + 1;
    const r = L.ring + (this.id * L.ringSize + (n % L.ringSize)) * RING_WORDS;
    const seq = Atomics.add(m, L.global + G.SEQ, 1);
    m[r] = seq;
    m[r + 1] = code;
    m[r + 2] = a;
    m[r + 3] = b;
    m[r + 4] = c;
    m[r + 5] = this.threaded ? 0 : this.clock.step;
    if (this.trace) this.trace.mix4(code, a, b, c);
    if (this.evHook !== null) this.evHook(this.id, code, a, b, c);
    return seq;
  }

  /**
   * The first event of every workload op (EV.OP_START). With an op log (threads), also notes the
   * op's global sequence number and this CPU's event number: a threads failure is replayed from
   * them (each CPU's op starts in the global order, the flight recorder placed within its ops).
   */
  evOpStart(proc: number, r1: number): void {
    const log = this.opLog;
    if (log === null) {
      this.ev(EV.OP_START, proc, r1);
      return;
    }
    log.eventNos.push(this.m[this.posW]);
    log.seqs.push(this.ev(EV.OP_START, proc, r1));
  }

  /** threads: the op log (see evOpStart); null: not kept (sched). */
  opLog: OpLog | null = null;

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

/** Per op a CPU started, in order: the global sequence number and the CPU's event number of its OP_START. */
export interface OpLog {
  seqs: number[];
  eventNos: number[];
}
