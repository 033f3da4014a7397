// The deterministic engine: one thread runs a whole machine; a seeded scheduler picks which
// simulated CPU advances at each yield. Same seed + config = the same run, byte for byte (the
// trace hash covers every choice and event). Wall-clock time is measured, never consulted.
import type { Config } from '../config/config.js';
import { Machine } from '../machine/machine.js';
import { mem_init } from '../linux/mm/page_alloc.js';
import { allocFailStream, Cpu, memcgFailStream, type EventHook, signatureOf, Violation, type Clock } from '../machine/cpu.js';
import { readRing } from '../diag/flight-recorder.js';
import { type Gen, WAIT } from '../machine/gen.js';
import { EV_COUNT, EV_NAMES } from '../machine/events.js';
import { makeScheduler, type Scheduler, ScheduleRecorder } from './scheduler.js';
import { TraceHash } from '../machine/trace.js';
import { mixString, traceHex } from './trace-hash.js';
import { modelKey } from './model-key.js';
import { type Op, Program, rng } from '../workload/program.js';
import { run_op } from '../workload/run-op.js';
import { release_pins } from '../workload/pins.js';
import { checkNoLeaks, checkQuiescent, checkRefVsMap, type Finding } from '../check/invariants.js';
import { checkDisk } from '../check/oracle.js';
import { ksys_sync } from '../linux/mm/page-writeback.js';
import { truncate_inode_pages } from '../linux/mm/filemap.js';
import { HistSet } from '../machine/histograms.js';
import type { RunResult, ViolationRecord } from './result.js';
import { CPU, MM, MM_LIVE, RW_SLOTS } from '../machine/layout.js';
import { mmget_not_zero, mmput, process_exit } from '../linux/kernel/fork.js';
import { heldLocks, holdersOf, lockHangDetails, lockKind, lockName, UNIT_STEP, waitName, waitSignature } from '../diag/hang.js';
import { configForSeed, variantOf } from './variants.js';
import { buildMachine } from '../check/machine.js';
import { bothHooks, checkInstruments, CpuShadow } from '../check/instruments.js';

export interface SchedOptions {
  scheduler?: Scheduler;
  /** Keep the whole schedule (for artifacts); on by default. */
  record?: boolean;
  /**
   * Called once every program has ended and the quiescent check found nothing, just before
   * teardown exits every process: the last moment the processes' state can be read.
   */
  beforeTeardown?: (machine: Machine) => void;
  /**
   * Each CPU's ops as an explicit list instead of the seeded stream (a shrunk failure, a threads
   * failure's recorded streams). A CPU without a list (or with null) runs the seeded stream.
   */
  programs?: (readonly Op[] | null)[];
  /** Told of every event as it is recorded. */
  onEvent?: EventHook;
  /** Told of every note (EV.NOTE_*: what only an event log for the interleaving view needs; never counted, ringed or hashed). */
  onNote?: EventHook;
  /** Build the machine on this (zeroed) buffer: the coordinator keeps it to watch the run's progress and read its flight recorders. */
  sab?: SharedArrayBuffer;
  /**
   * Ops run to completion, in order, on a helper CPU alone before the scheduling loop starts (a
   * scripted starting state, e.g. the mappings a workload then races on, as teardown runs alone
   * after it). Their events go into the trace hash but are not counted; they take no scheduler
   * steps. Not recorded in failure artifacts: a caller that uses it replays by calling runSched again.
   */
  setup?: readonly Op[];
}

/** Where a CPU gets its next kernel-path generator from: an op stream, or a test's script. */
export type GenSource = (cpu: Cpu) => Gen<void> | null;

interface CpuState {
  cpu: Cpu;
  next: GenSource;
  gen: Gen<void> | null;
  done: boolean;
}

/** The scheduling loop of the sched engine, over the given CPUs, until every source is spent. */
export class SchedLoop {
  readonly states: CpuState[];
  readonly rec = new ScheduleRecorder();
  /** The runnable list for each set of runnable CPUs (bit c: CPU c), made once: schedulers only read it. */
  private readonly runnableOf: (readonly number[])[] = [];
  constructor(
    readonly machine: Machine,
    cpus: Cpu[],
    sources: GenSource[],
    readonly sched: Scheduler,
    readonly clock: Clock,
    readonly trace: TraceHash | null,
    readonly record = true,
  ) {
    this.states = cpus.map((cpu, i) => {
      if (cpu.id !== i) throw new Error(`SchedLoop: CPU ids must be 0..n-1 in order (got ${cpu.id} at ${i})`);
      return { cpu, next: sources[i], gen: null, done: false };
    });
    sched.start(cpus.length);
    if (sched.event) {
      const ev = sched.event.bind(sched);
      for (const cpu of cpus) {
        const prev = cpu.evHook;
        cpu.evHook = prev ? (id, code, a, b, c) => (prev(id, code, a, b, c), ev(id, code)) : (id, code) => ev(id, code);
      }
    }
  }

  /** Run to completion; throws Violation on a hang, deadlock, step limit, or a checker finding. */
  run(): void {
    const { machine, clock, sched, trace, states, runnableOf } = this;
    const cfg = machine.cfg;
    for (;;) {
      let mask = 0;
      let live = 0;
      let overdue: CpuState[] | null = null;
      for (const s of states) {
        if (s.done) continue;
        live++;
        if (s.cpu.waitFor === null || s.cpu.waitFor()) mask |= 1 << s.cpu.id;
        else if (clock.step - s.cpu.blockedSince > cfg.lockHoldLimitSteps) (overdue ??= []).push(s);
      }
      if (live === 0) return;
      if (mask === 0) throw deadlock(machine, states, clock.step);
      // a wait past the deadline in scheduler steps is a hang only if no runnable CPU it waits on
      // (through a chain of holders) is merely unscheduled: PCT starves low priorities, lock holders too
      if (overdue) for (const s of overdue) if (waitIsHang(machine, states, s, mask)) throw waitHang(machine, s, clock.step);
      let runnable = runnableOf[mask];
      if (runnable === undefined) {
        const list: number[] = [];
        for (let c = 0; c < states.length; c++) if (mask & (1 << c)) list.push(c);
        runnable = runnableOf[mask] = Object.freeze(list);
      }
      // a lock held past the deadline, even while its waiters are within theirs (or it has none):
      // looked for every 1024 steps, so the loop stays cheap
      if ((clock.step & 1023) === 0) {
        const v = holdHang(machine, states, clock.step);
        if (v) throw v;
      }
      if (clock.step >= cfg.stepLimit) throw new Violation('step-limit', 'sched', { steps: clock.step, limit: cfg.stepLimit }, -1);
      const c = sched.pick(runnable, clock.step);
      trace?.mix(c);
      if (this.record) this.rec.push(c);
      clock.step++;
      const s = states[c];
      s.cpu.steps++;
      s.cpu.waitFor = null;
      if (!s.gen) {
        s.gen = s.next(s.cpu);
        if (!s.gen) {
          s.done = true;
          sched.yielded?.(c, null);
          continue;
        }
      }
      const r = s.gen.next();
      if (r.done) s.gen = null;
      sched.yielded?.(c, r.done ? null : r.value);
      // the observer: refcount >= mapcount for every folio this step touched
      const t = s.cpu.touched;
      if (t.length !== 0) {
        for (let i = 0; i < t.length; i++) {
          const f = checkRefVsMap(machine, t[i]);
          if (f) throw new Violation(f.invariant, 'observer', { ...f.details, during: s.cpu.curOp }, c);
        }
        t.length = 0;
      }
    }
  }
}

/**
 * The run whose steps are cfg's pct step estimate (seed 0 of it under the random scheduler), or
 * null when cfg needs none (not pct, or pctSteps given). The coordinator runs it on its pool (a
 * nightly config's takes seconds: not on the main thread) and sets pctSteps to max(1, its steps).
 */
export function pctProbe(cfg: Config): Config | null {
  if (cfg.scheduler !== 'pct' || cfg.pctSteps > 0) return null;
  return { ...cfg, scheduler: 'random', seed: 0, seeds: 1, duration: 0 };
}

/** pctSteps measured for a workload config (a pure function of it), per worker thread. */
const pctStepsCache = new Map<string, number>();

/**
 * A config whose pct step estimate is resolved: pctSteps 0 means "measure it", as the steps of
 * seed 0 under the random scheduler. The same config always resolves to the same value, and the
 * resolved config is what summaries and artifacts record, so a replay needs no measurement.
 */
export function resolvePctSteps(cfg: Config): Config {
  const probe = pctProbe(cfg);
  if (!probe) return cfg;
  const key = JSON.stringify(probe);
  let steps = pctStepsCache.get(key);
  if (steps === undefined) {
    steps = Math.max(1, runSched(probe, 0, { record: false }).steps);
    pctStepsCache.set(key, steps);
  }
  return { ...cfg, pctSteps: steps };
}

export function runSched(cfg: Config, seed: number, opts: SchedOptions = {}): RunResult {
  const t0 = performance.now();
  const variant = variantOf(cfg, seed);
  cfg = configForSeed(cfg, seed); // a config with variants: this seed's (the same object without)
  cfg = opts.scheduler ? cfg : resolvePctSteps(cfg);
  const machine = buildMachine(cfg, opts.sab);
  mem_init(machine, rng(seed, 'boot'));
  const clock: Clock = { step: 0 };
  const trace = new TraceHash();
  mixString(trace, modelKey(cfg));
  trace.mix(seed);
  const sched = opts.scheduler ?? makeScheduler(cfg.scheduler, seed, cfg);
  const cpus: Cpu[] = [];
  const sources: GenSource[] = [];
  const opsStarted: number[] = [];
  // the instruments' own check at the end (src/check/instruments.ts): each CPU's event hook keeps a copy of its ring
  const shadows: CpuShadow[] = [];
  // one histogram set for all the CPUs (one thread runs them): the sum of per-CPU sets, without the adding
  const hist = new HistSet('steps');
  for (let i = 0; i < cfg.cpus; i++) {
    const cpu = new Cpu(machine, i, false, clock, cfg, hist);
    cpu.trace = trace;
    if (cfg.allocFailRate) cpu.allocFailRand = allocFailStream(seed, i);
    if (cfg.memcgFailRate) cpu.memcgFailRand = memcgFailStream(seed, i);
    const shadow = new CpuShadow(machine.L.ringSize, clock);
    shadows.push(shadow);
    cpu.evHook = bothHooks(opts.onEvent, shadow.hook);
    if (opts.onNote) cpu.noteHook = opts.onNote;
    cpus.push(cpu);
    const next = opSource(cfg, seed, i, opts.programs?.[i] ?? null);
    opsStarted.push(0);
    let released = false;
    sources.push((c) => {
      const op = next();
      if (op) {
        opsStarted[i]++;
        shadow.kind = op.kind;
        return run_op(c, op);
      }
      if (released) return null;
      released = true;
      return release_pins(c); // the program is over: its pins go too
    });
  }
  const loop = new SchedLoop(machine, cpus, sources, sched, clock, trace, opts.record !== false);
  const violations: ViolationRecord[] = [];
  const record = (f: Finding, cpu: number) => {
    violations.push({
      invariant: f.invariant, path: f.path, signature: signatureOf(f.invariant, f.path, cfg.inject), details: f.details, cpu, seed, engine: 'sched', step: clock.step, ...(variant ? { variant } : {}),
      events: cpus.map((c) => readRing(machine, c.id)), schedule: loop.rec.encode(), opsStarted: [...opsStarted],
    });
  };
  try {
    if (opts.setup?.length) runSetup(machine, clock, trace, opts.setup, shadows[0].ringHook);
    sched.attach?.(machine);
    try {
      loop.run();
    } finally {
      sched.detach?.();
    }
    // quiescent: every CPU idle
    const found = checkQuiescent(machine);
    for (const f of found) record(f, -1);
    if (!found.length) {
      for (const f of checkInstruments(machine, cpus, shadows, opsStarted, hist)) record(f, -1);
      opts.beforeTeardown?.(machine);
      teardown(machine, clock, trace);
      for (const f of checkNoLeaks(machine)) record(f, -1);
    }
  } catch (e) {
    if (!(e instanceof Violation)) throw e;
    record({ invariant: e.invariant, path: e.path, details: e.details }, e.cpu);
  }
  const counters = new Float64Array(EV_COUNT);
  const ops: Record<string, number> = {};
  for (const c of cpus) for (let i = 0; i < EV_COUNT; i++) counters[i] += c.counters[i];
  const events: Record<string, number> = {};
  for (let i = 0; i < EV_COUNT; i++) if (counters[i]) events[EV_NAMES[i]] = counters[i];
  for (const k of hist.names()) if (k.startsWith('op.')) ops[k.slice(3)] = hist.get(k)!.totalCount;
  for (const v of violations) mixString(trace, v.signature);
  const outcome = sched.outcome?.();
  return {
    seed, engine: 'sched', steps: clock.step, ops, events, hist: hist.encode(), violations, traceHash: traceHex(trace), wallMs: performance.now() - t0, ...(variant ? { variant } : {}),
    ...(outcome ? { scheduler: { name: sched.name, ...outcome } } : {}),
  };
}

/** CPU i's next op: from its explicit list if it has one, else from the seeded stream. */
function opSource(cfg: Config, seed: number, i: number, list: readonly Op[] | null): () => Op | null {
  if (list) {
    let n = 0;
    return () => (n < list.length ? list[n++] : null);
  }
  const prog = new Program(cfg, seed, i);
  return () => prog.next();
}

/**
 * SchedOptions.setup: the ops on a helper CPU, driven alone (nothing else runs, so nothing blocks).
 * It records on CPU 0's flight recorder, and tells hook of each event (CPU 0's shadow).
 */
function runSetup(machine: Machine, clock: Clock, trace: TraceHash, ops: readonly Op[], hook: EventHook): void {
  const cpu = new Cpu(machine, 0, false, clock, machine.cfg);
  cpu.trace = trace;
  cpu.evHook = hook;
  for (const op of ops) drain(run_op(cpu, op));
}

/**
 * Exit every live process on a helper CPU, driving it alone (nothing else runs), then the final
 * sync: every file is written back and the disk checked against the file oracle (a write not on
 * disk is lost: violation lost-write), and the page cache is truncated (so the leak check that
 * follows sees every page free).
 */
export function teardown(machine: Machine, clock: Clock, trace: TraceHash): void {
  const cpu = new Cpu(machine, 0, false, clock, machine.cfg);
  cpu.trace = trace;
  cpu.curOp = 'teardown';
  for (let mm = 0; mm < machine.L.maxMms; mm++) {
    if (Atomics.load(machine.m, machine.mmWord(mm, MM.STATE)) !== MM_LIVE) continue;
    if (!mmget_not_zero(cpu, mm)) continue;
    drain(process_exit(cpu, mm));
    drain(mmput(cpu, mm));
  }
  const lost = drain(final_sync(cpu));
  if (lost) throw new Violation(lost.invariant, lost.path, lost.details, -1);
}

/**
 * The end of a run, after every process has exited: sync (ksys_sync), check the disk, then
 * truncate every file's page cache. Returns the lost-write finding, if any (the page cache is then
 * left as it is: the run is over).
 */
export function* final_sync(cpu: Cpu): Gen<Finding | null> {
  const machine = cpu.machine;
  yield* ksys_sync(cpu);
  const lost = checkDisk(machine);
  if (lost) return lost;
  for (let f = 0; f < machine.L.files; f++) yield* truncate_inode_pages(cpu, f);
  return null;
}

function drain<T>(g: Gen<T>): T {
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
    if (r.value === WAIT) throw new Error('teardown blocked: a lock is still held');
  }
}

/**
 * Whether s, blocked for more than lockHoldLimitSteps scheduler steps, hangs. Follow what it waits
 * for: a lock with no holder (a lost wakeup), a wait that is not on a lock, or a cycle of waits (a
 * deadlock of some CPUs while others run) is a hang; a runnable holder (runnable: a bit of mask) is
 * one only if it has held the lock for more than lockHoldLimitSteps of its own steps (the scheduler
 * may simply not run it); a blocked holder passes the question on to what it waits for.
 */
function waitIsHang(machine: Machine, states: CpuState[], s: CpuState, mask: number): boolean {
  const limit = machine.cfg.lockHoldLimitSteps;
  const seen = new Set<number>();
  const chain = [s.cpu];
  while (chain.length) {
    const w = chain.pop()!;
    if (seen.has(w.id)) return true; // a cycle
    seen.add(w.id);
    if (w.waitOff < 0) return true;
    const holders = holdersOf(machine, w.waitOff);
    if (!holders.length) return true;
    for (const h of holders) {
      const hc = states[h.cpu]?.cpu;
      if (!hc) return true;
      if (mask & (1 << h.cpu)) {
        if (ownHoldSteps(machine, hc, w.waitOff) > limit) return true;
      } else chain.push(hc);
    }
  }
  return false;
}

/** How many of its own steps cpu has held the lock at off (-1: it does not hold it). */
function ownHoldSteps(machine: Machine, cpu: Cpu, off: number): number {
  for (const h of cpu.held) if (h.off === off) return cpu.steps - h.own;
  const base = machine.cpuWord(cpu.id, CPU.RW_HELD);
  for (let k = 0; k < RW_SLOTS; k++) {
    const w = Atomics.load(machine.m, base + 2 * k);
    if (w !== 0 && (w >>> 1) - 1 === off) return cpu.steps - cpu.rwOwn[k];
  }
  return -1;
}

/** A CPU blocked on a lock longer than lockHoldLimitSteps: lock-hang@<lock kind>, with its holders and waiters. */
function waitHang(machine: Machine, s: CpuState, step: number): Violation {
  const cpu = s.cpu;
  const limit = machine.cfg.lockHoldLimitSteps;
  const why = `CPU ${cpu.id} waited more than lockHoldLimitSteps (${limit} steps) since step ${cpu.blockedSince}`;
  if (cpu.waitOff < 0) return new Violation('lock-hang', cpu.waitWhat, { why, waiter: cpu.id, waitingOn: cpu.waitWhat, since: cpu.blockedSince, now: step, unit: UNIT_STEP, held: heldLocks(machine, UNIT_STEP) }, cpu.id);
  const d = lockHangDetails(machine, cpu.waitOff, why, step, UNIT_STEP, limit);
  return new Violation('lock-hang', waitSignature(machine, cpu), { ...d, waiter: cpu.id }, cpu.id);
}

/**
 * A lock held for more than lockHoldLimitSteps of its holder's own steps (spinlocks from each CPU's
 * held list, semaphores from its RW_HELD slots): lock-hang@<lock kind>, naming the holder, the op
 * it runs, the (scheduler) step its hold began and the waiters. Own steps, not scheduler steps: a
 * holder that is simply not scheduled (PCT starves low priorities) is not hanging. null when every
 * hold is within the deadline.
 */
function holdHang(machine: Machine, states: CpuState[], step: number): Violation | null {
  const limit = machine.cfg.lockHoldLimitSteps;
  for (const s of states) {
    const cpu = s.cpu;
    for (const h of cpu.held) {
      if (cpu.steps - h.own <= limit) continue;
      const why = `CPU ${cpu.id} held it for ${cpu.steps - h.own} of its own steps (lockHoldLimitSteps ${limit}) since step ${h.at}`;
      return new Violation('lock-hang', lockKind(lockName(machine, h.off)), { ...lockHangDetails(machine, h.off, why, step, UNIT_STEP, limit), holdsTooLong: cpu.id }, cpu.id);
    }
    const base = machine.cpuWord(cpu.id, CPU.RW_HELD);
    for (let k = 0; k < RW_SLOTS; k++) {
      const w = Atomics.load(machine.m, base + 2 * k);
      if (w === 0 || cpu.steps - cpu.rwOwn[k] <= limit) continue;
      const off = (w >>> 1) - 1, mode = w & 1 ? 'write' : 'read';
      const since = Atomics.load(machine.m, base + 2 * k + 1);
      const why = `CPU ${cpu.id} held it for ${mode} for ${cpu.steps - cpu.rwOwn[k]} of its own steps (lockHoldLimitSteps ${limit}) since step ${since}`;
      return new Violation('lock-hang', `${lockKind(lockName(machine, off))}(${mode})`, { ...lockHangDetails(machine, off, why, step, UNIT_STEP, limit), holdsTooLong: cpu.id }, cpu.id);
    }
  }
  return null;
}

/** No CPU can run: every live one is blocked. deadlock@sched, with every waiter and every lock held. */
function deadlock(machine: Machine, states: CpuState[], step: number): Violation {
  const blocked = states.filter((s) => !s.done);
  const waiters = blocked.map((s) => {
    const holders = s.cpu.waitOff >= 0 ? holdersOf(machine, s.cpu.waitOff) : [];
    return { cpu: s.cpu.id, op: s.cpu.curOp, waitingOn: waitName(machine, s.cpu), since: s.cpu.blockedSince, heldBy: holders.map((h) => h.cpu) };
  });
  const waits = waiters.map(
    (w) => `CPU ${w.cpu}${w.op ? ` (${w.op})` : ''} waits for ${w.waitingOn} since step ${w.since}` + (w.heldBy.length ? `, held by CPU ${w.heldBy.join(', CPU ')}` : ''),
  );
  return new Violation('deadlock', 'sched', { summary: waits.join('; '), waits, waiters, holders: heldLocks(machine, UNIT_STEP), now: step, unit: UNIT_STEP }, -1);
}
