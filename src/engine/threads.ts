// The threads engine (DESIGN section 3, "One model, two engines"): real concurrency. One round is
// one seed: the coordinator boots one machine in a SharedArrayBuffer and piscina runs one task per
// simulated CPU on its own worker thread, all on that machine at once; each CPU's op stream is a
// function of the seed, the interleaving is real. While they race, this thread sweeps the folios
// with the lock-free observer; at quiescence it runs the full checker, tears every process down
// and checks for leaks, as the sched engine does. Wall-clock time only bounds the run.
import { availableParallelism } from 'node:os';
import { WorkerPool } from './pool.js';
import type { Config } from '../config/config.js';
import { Machine } from '../machine/machine.js';
import { computeLayout, CPU, G } from '../machine/layout.js';
import { mem_init } from '../linux/mm/page_alloc.js';
import { rng } from '../workload/program.js';
import { signatureOf, Violation } from '../machine/cpu.js';
import { readRing } from '../diag/flight-recorder.js';
import { checkRoundInstruments, completedOps } from '../check/instruments.js';
import { teardown } from './sched.js';
import { TraceHash } from '../machine/trace.js';
import { recordOps } from './recording.js';
import { threadsCodeUrl } from './threads-code.js';
import { configForSeed, variantOf } from './variants.js';
import { errorDetails, MachineBuffers, ProgressWatch, workerFinding, workerHangMs } from './worker-watch.js';
import { checkNoLeaks, checkQuiescent, type Finding } from '../check/invariants.js';
import { Observer } from '../check/observer.js';
import { HistSet } from '../machine/histograms.js';
import type { RunResult, ViolationRecord } from './result.js';
import type { CpuTask, CpuTaskResult } from './threads-task.js';
import { buildMachine } from '../check/machine.js';

export interface ThreadsOptions {
  /** Exactly these rounds (one seed each); null: seeds cfg.seed, cfg.seed+1, ... (see count) until time is up. */
  seeds: number[] | null;
  /** seeds null: the i-th round's seed (a shard's slice); default cfg.seed + i. */
  seedAt?: (i: number) => number;
  /**
   * seeds null: at most this many rounds (default: unbounded with a duration, else cfg.seeds). A
   * count, not a list: a nightly config's seed count (1e9) is a bound, not an array to allocate.
   */
  count?: number;
  /** Wall-clock budget in seconds (0 = none); with seeds, whichever ends first. */
  durationSec: number;
  /** Worker threads = simulated CPUs (overrides cfg.cpus). */
  workers: number;
  onRound?: (r: RunResult) => void;
  /** Aborting stops the current round at the CPUs' next op boundary and runs no further rounds. */
  signal?: AbortSignal;
  /** How the observer shares the machine; default: 'continuous' if a core is left over for it. */
  observer?: ObserverPace;
  /** The piscina task file (tests: one that hangs or crashes on purpose); default workers/cpu-task.js (threadsCode "stripped": the threads build's, src/engine/threads-code.ts). */
  taskFile?: URL;
}

/**
 * continuous: the observer sweeps without pause, yielding to the event loop (setImmediate) between
 * chunks so piscina's messages are still processed. shared: no core is left for it, so a busy
 * observer would time-slice with the CPU threads and the CPUs would overlap less (measured on 2
 * cores, 2 workers: about 3x fewer lost fault races); it sweeps a larger chunk per millisecond.
 */
export type ObserverPace = 'continuous' | 'shared';
const PACE = {
  continuous: { chunk: 1024, pause: () => new Promise<void>((resolve) => setImmediate(resolve)) },
  shared: { chunk: 4096, pause: () => new Promise<void>((resolve) => setTimeout(resolve, 1)) },
} as const;

export async function runThreads(cfg: Config, opts: ThreadsOptions): Promise<RunResult[]> {
  // The layout depends on cpus, so the override must precede every Machine.
  const rcfg: Config = { ...cfg, engine: 'threads', cpus: opts.workers };
  // min = max = workers: every CPU task of a round must run at once. A task queued behind one
  // that spins on a lock it holds would never run, and the round would deadlock.
  const newPool = () => new WorkerPool({
    filename: opts.taskFile ?? (cfg.threadsCode === 'stripped' ? threadsCodeUrl('workers/cpu-task.js') : new URL('../../workers/cpu-task.js', import.meta.url)),
    threads: opts.workers,
    idleTimeout: Infinity,
  });
  let pool = newPool();
  const deadline = opts.durationSec > 0 ? performance.now() + opts.durationSec * 1000 : Infinity;
  const timeUp = () => performance.now() >= deadline || !!opts.signal?.aborted;
  const seeds = opts.seeds;
  const rounds = seeds ? seeds.length : (opts.count ?? (opts.durationSec > 0 ? Infinity : cfg.seeds));
  const pace = opts.observer ?? (availableParallelism() > opts.workers ? 'continuous' : 'shared');
  const results: RunResult[] = [];
  const buffers = new MachineBuffers(); // one machine buffer, reused round after round
  try {
    for (let i = 0; i < rounds; i++) {
      if (timeUp()) break;
      const r = await runRound(pool, rcfg, seeds ? seeds[i] : (opts.seedAt?.(i) ?? cfg.seed + i), timeUp, pace, buffers);
      results.push(r);
      opts.onRound?.(r);
      // a worker hung (terminated) or died: the next round gets a whole fresh pool, every CPU's thread at once
      if (r.violations.some((v) => v.invariant === 'worker-hang' || v.invariant === 'worker-crash')) {
        await pool.close();
        pool.throwIfFault();
        pool = newPool();
      }
    }
  } finally {
    await pool.close();
  }
  pool.throwIfFault();
  return results;
}

/** One seed on one machine: boot, race the CPUs under the observer, check, tear down, check. */
async function runRound(pool: WorkerPool, rcfg: Config, seed: number, timeUp: () => boolean, pace: ObserverPace, buffers: MachineBuffers): Promise<RunResult> {
  const t0 = performance.now();
  const variant = variantOf(rcfg, seed);
  const cfg = configForSeed(rcfg, seed); // a config with variants: this round's
  const machine = buildMachine(cfg, buffers.take(computeLayout(cfg).words * 4));
  mem_init(machine, rng(seed, 'boot'));
  const { m, L } = machine;
  // Each CPU's task with its own AbortSignal: a CPU that records no event for workerHangMs is
  // terminated (worker-hang@threads); a task that fails (worker-crash@threads: a tool bug, or its
  // thread died) stops the others at once, since they may wait for it (the start barrier, a lock).
  const hangMs = workerHangMs(cfg);
  const aborts = Array.from({ length: cfg.cpus }, () => new AbortController());
  const ended = Array<boolean>(cfg.cpus).fill(false);
  // set by each task when it starts: a task still queued, or whose fresh thread is still loading, is not hanging
  const started = new Int32Array(new SharedArrayBuffer(4 * cfg.cpus));
  const tasks: Promise<CpuTaskResult>[] = [];
  for (let cpu = 0; cpu < cfg.cpus; cpu++) {
    const t = pool.run<CpuTaskResult>({ sab: machine.sab, cfg, seed, cpu, started: started.buffer as SharedArrayBuffer } satisfies CpuTask, { signal: aborts[cpu].signal });
    t.then(() => (ended[cpu] = true), () => {
      ended[cpu] = true;
      Atomics.store(m, L.global + G.STOP, 2);
    });
    tasks.push(t);
  }
  let hung: number[] = [];
  const watch = new ProgressWatch(cfg.cpus, (c) => Atomics.load(m, machine.cpuWord(c, CPU.RING_POS)), (c) => !ended[c] && Atomics.load(started, c) === 1, hangMs, (stuck) => {
    hung = stuck;
    Atomics.store(m, L.global + G.STOP, 2);
    for (const c of stuck) aborts[c].abort(new Error(`worker-hang: CPU ${c}`));
  });
  let settled = false;
  const all = Promise.allSettled(tasks).finally(() => (settled = true));
  const observed = await observe(machine, seed, () => settled, timeUp, pace);
  const outcomes = await all;
  watch.stop();
  const workers: ViolationRecord[] = [];
  for (const [c, o] of outcomes.entries()) {
    if (o.status === 'fulfilled') continue;
    if (hung.includes(c)) workers.push(workerFinding('hang', machine, seed, { why: `CPU ${c} recorded no event for ${hangMs} ms (workerHangMs): its worker thread was terminated`, workerHangMs: hangMs }, c));
    else workers.push(workerFinding('crash', machine, seed, { why: `CPU ${c}'s worker died`, ...errorDetails(o.reason) }, c));
  }
  const outs = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : [])).sort((a, b) => a.cpu - b.cpu);
  const opsStarted = Array.from({ length: cfg.cpus }, (_, c) => outs.find((o) => o.cpu === c)?.opsStarted ?? 0);
  const logs = outs.map((o) => o.opLog);

  const violations: ViolationRecord[] = [];
  const record = (f: Finding, cpu: number) => violations.push(toRecord(machine, f, cpu, seed, opsStarted));
  if (observed) violations.push({ ...observed, opsStarted });
  for (const o of outs) if (o.violation) violations.push({ ...o.violation, opsStarted });
  violations.push(...workers); // a CPU that hung or died: the machine is not quiescent, not checked further
  violations.sort((a, b) => a.step - b.step); // first detected first (G.SEQ at detection)
  const merged = merge(outs);
  if (!violations.length) {
    // Quiescent: every task has returned, so no CPU runs and no lock is held.
    try {
      const found = checkQuiescent(machine);
      for (const f of found) record(f, -1);
      if (!found.length) {
        for (const f of checkRoundInstruments(machine, HistSet.decode(merged.hist), completedOps(outs.map((o) => ({ completed: o.completed ?? {} }))))) record(f, -1);
        teardown(machine, { step: 0 }, new TraceHash());
        for (const f of checkNoLeaks(machine)) record(f, -1);
      }
    } catch (e) {
      if (!(e instanceof Violation)) throw e;
      record({ invariant: e.invariant, path: e.path, details: e.details }, e.cpu);
    }
  }
  // every CPU's ops up to the detection, for a replay in the sched engine (repro); a CPU's ops
  // are not known when its worker hung or died
  for (const v of violations) Object.assign(v, workers.length ? {} : recordOps(cfg, seed, logs, v.step), variant ? { variant } : {});
  // every task has returned (none hung or died, which could leave a thread holding the buffer): the next round may reuse it
  if (!workers.length) buffers.give(machine.sab);
  return { seed, engine: 'threads', ...merged, violations, wallMs: performance.now() - t0, ...(variant ? { variant } : {}), opsStarted };
}

/**
 * Sweep the folios while the CPU tasks run, a chunk per turn of the event loop. Also the round's
 * clock: when time is up, G.STOP = 1 lets every CPU finish its current op and stop, so the round
 * still ends quiescent and gets checked. A finding sets G.STOP = 2: lock waiters abort at once.
 */
async function observe(machine: Machine, seed: number, settled: () => boolean, timeUp: () => boolean, pace: ObserverPace): Promise<ViolationRecord | null> {
  const { m, L } = machine;
  const { chunk, pause } = PACE[pace];
  const stop = L.global + G.STOP;
  const obs = new Observer(machine);
  while (!settled()) {
    if (Atomics.load(m, stop) === 2) return null; // a CPU found a violation; it reports it
    const f = obs.scan(chunk);
    if (f) {
      Atomics.store(m, stop, 2);
      Atomics.add(m, L.global + G.VIOLATIONS, 1);
      return toRecord(machine, f, -1, seed, []);
    }
    if (timeUp()) Atomics.compareExchange(m, stop, 0, 1);
    await pause();
  }
  return null;
}

function toRecord(machine: Machine, f: Finding, cpu: number, seed: number, opsStarted: number[]): ViolationRecord {
  const { m, L } = machine;
  return {
    invariant: f.invariant, path: f.path, signature: signatureOf(f.invariant, f.path, machine.cfg.inject), details: f.details, cpu, seed, engine: 'threads',
    step: Atomics.load(m, L.global + G.SEQ), events: Array.from({ length: L.cpus }, (_, c) => readRing(machine, c)), opsStarted,
  };
}

/** Per-CPU counters and histograms merged by addition; ops per kind from the op.<kind> histograms. */
function merge(outs: CpuTaskResult[]): Pick<RunResult, 'steps' | 'ops' | 'events' | 'hist'> {
  const events: Record<string, number> = {};
  const hist = new HistSet('ns');
  for (const o of outs) {
    for (const [k, v] of Object.entries(o.counters)) events[k] = (events[k] ?? 0) + v;
    hist.addEncoded(o.hist);
  }
  const ops: Record<string, number> = {};
  for (const k of hist.names()) if (k.startsWith('op.')) ops[k.slice(3)] = hist.get(k)!.totalCount;
  // steps counts scheduler steps, which only the sched engine has.
  return { steps: 0, ops, events, hist: hist.encode() };
}
