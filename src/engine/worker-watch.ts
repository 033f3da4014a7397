// Worker hangs and crashes, in both engines: a worker thread that makes no progress for
// workerHangMs (a kernel path looping without a yield, a JavaScript bug) or that dies (throws
// something that is not a Violation, or its thread exits) is reported as a finding with its seed
// and the last events of every CPU, and the run goes on with a fresh worker. Progress is read from
// the machine itself, which lives in a SharedArrayBuffer the coordinator holds: the global event
// sequence (G.SEQ, sched) or each CPU's event count (CPU.RING_POS, threads). So nothing is added to
// the hot path, and the flight recorders can still be read after the worker is gone.
import type { WorkerPool } from './pool.js';
import { type Config, runConfig } from '../config/config.js';
import { Machine } from '../machine/machine.js';
import { computeLayout, G } from '../machine/layout.js';
import { signatureOf } from '../machine/cpu.js';
import { readRing } from '../diag/flight-recorder.js';
import { heldLocks, opOf, UNIT_SEQ, UNIT_STEP } from '../diag/hang.js';
import { HistSet } from '../machine/histograms.js';
import type { RunResult, ViolationRecord } from './result.js';
import { configForSeed, variantOf } from './variants.js';
import { buildMachine } from '../check/machine.js';

/** The deadline when the config sets none: a minute, and well past a lock wait's (threads: lock-hang comes first). */
export function workerHangMs(cfg: Config): number {
  return cfg.workerHangMs ?? Math.max(60_000, 2 * cfg.lockWaitLimitMs);
}

/**
 * Calls onHang(units) once when some active units have made no progress for hangMs. progress(i)
 * is unit i's counter (it moves while the unit works); active(i) says it is running (not queued,
 * not finished). Polls a few times per deadline, off the hot path.
 */
export class ProgressWatch {
  private readonly last: number[];
  private readonly since: number[];
  private readonly timer: NodeJS.Timeout;
  private fired = false;

  constructor(units: number, progress: (i: number) => number, active: (i: number) => boolean, hangMs: number, onHang: (stuck: number[]) => void) {
    const now = performance.now();
    this.last = Array.from({ length: units }, (_, i) => progress(i));
    this.since = Array(units).fill(now);
    this.timer = setInterval(() => {
      const t = performance.now();
      const stuck: number[] = [];
      for (let i = 0; i < units; i++) {
        const p = progress(i);
        if (p !== this.last[i] || !active(i)) {
          this.last[i] = p;
          this.since[i] = t;
        } else if (t - this.since[i] >= hangMs) stuck.push(i);
      }
      if (stuck.length && !this.fired) {
        this.fired = true;
        this.stop();
        onHang(stuck);
      }
    }, Math.max(20, Math.min(1000, hangMs / 4)));
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** What a piscina rejection says: the error's message and stack (an Error cloned from the worker), or the thing thrown. */
export function errorDetails(e: unknown): { error: string; stack?: string } {
  if (e instanceof Error) return { error: `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}`, stack: e.stack };
  return { error: String(e) };
}

/**
 * A finding about a worker: worker-hang@<engine> or worker-crash@<engine>, with the seed, the
 * variant, every CPU's last events and the op it was in, and the locks held, read from the machine.
 */
export function workerFinding(kind: 'hang' | 'crash', machine: Machine, seed: number, details: Record<string, unknown>, cpu = -1): ViolationRecord {
  const cfg = runConfig(machine.cfg);
  const engine = cfg.engine;
  const { m, L } = machine;
  const unit = engine === 'sched' ? UNIT_STEP : UNIT_SEQ;
  const events = Array.from({ length: L.cpus }, (_, c) => readRing(machine, c));
  const ops = Array.from({ length: L.cpus }, (_, c) => opOf(machine, c) || null);
  const last = events.flat().reduce((a, e) => Math.max(a, engine === 'sched' ? e.step : e.seq), 0);
  return {
    invariant: `worker-${kind}`, path: engine, signature: signatureOf(`worker-${kind}`, engine, cfg.inject),
    details: { ...details, ops, held: heldLocks(machine, unit), eventSeq: Atomics.load(m, L.global + G.SEQ) },
    cpu, seed, engine, step: last, events,
  };
}

/** A seed's result that is only a finding (the worker's own result is lost with it). */
export function findingResult(cfg: Config, seed: number, v: ViolationRecord, wallMs: number): RunResult {
  const variant = variantOf(cfg, seed);
  if (variant) v.variant = variant;
  return { seed, engine: cfg.engine, steps: 0, ops: {}, events: {}, hist: new HistSet(cfg.engine === 'sched' ? 'steps' : 'ns').encode(), violations: [v], wallMs, ...(variant ? { variant } : {}) };
}

/** workers/sched-task.ts's input: the seed, and the machine's buffer and a started flag the coordinator watches. */
export interface SchedTask {
  cfg: Config;
  seed: number;
  /** The machine's buffer (runSched builds its Machine on it). */
  sab?: SharedArrayBuffer;
  /** Int32 word 0: set to 1 when the task starts running (before: queued, not hanging). */
  started?: SharedArrayBuffer;
}

/**
 * Machine buffers for sched seeds, reused from one seed to the next: a fresh SharedArrayBuffer is
 * zero pages the kernel maps in on first touch, which costs more than the whole run of a small seed
 * on some machines (a VM: 8 to 17 ms per MiB measured, against 0.3 ms to zero one already mapped).
 * A buffer goes back only after a seed that returned normally (a terminated worker may still hold one).
 */
export class MachineBuffers {
  private readonly free = new Map<number, SharedArrayBuffer[]>();
  /** A zeroed buffer of bytes. */
  take(bytes: number): SharedArrayBuffer {
    const b = this.free.get(bytes)?.pop();
    if (!b) return new SharedArrayBuffer(bytes);
    new Int32Array(b).fill(0);
    return b;
  }
  give(b: SharedArrayBuffer): void {
    let list = this.free.get(b.byteLength);
    if (!list) this.free.set(b.byteLength, (list = []));
    list.push(b);
  }
}

/**
 * One sched seed on the pool, watched: a result, or a seed result holding worker-hang@sched (no
 * event for hangMs: the worker thread is terminated through the task's AbortSignal, piscina starts
 * a fresh one) or worker-crash@sched (the task threw something not a Violation, or its thread
 * died). Rejects only when `signal` (the run stopping) aborted it.
 */
export async function runSchedSeedWatched(pool: WorkerPool, cfg: Config, seed: number, signal: AbortSignal | undefined, hangMs: number, buffers?: MachineBuffers): Promise<RunResult> {
  const t0 = performance.now();
  const seedCfg = configForSeed(cfg, seed);
  const bytes = computeLayout(seedCfg).words * 4;
  const machine = buildMachine(seedCfg, buffers ? buffers.take(bytes) : new SharedArrayBuffer(bytes));
  const started = new Int32Array(new SharedArrayBuffer(4));
  const ac = new AbortController();
  const onStop = () => ac.abort(signal?.reason);
  if (signal?.aborted) onStop();
  signal?.addEventListener('abort', onStop, { once: true });
  let hung = false;
  const watch = new ProgressWatch(1, () => Atomics.load(machine.m, machine.L.global + G.SEQ), () => Atomics.load(started, 0) === 1, hangMs, () => {
    hung = true;
    ac.abort(new Error(`worker-hang: seed ${seed}`));
  });
  try {
    const r = await pool.run<RunResult>({ cfg, seed, sab: machine.sab, started: started.buffer as SharedArrayBuffer } satisfies SchedTask, { signal: ac.signal });
    buffers?.give(machine.sab);
    return r;
  } catch (e) {
    if (hung) {
      const why = `no event for ${hangMs} ms (workerHangMs): the worker thread was terminated`;
      return findingResult(cfg, seed, workerFinding('hang', machine, seed, { why, workerHangMs: hangMs }), performance.now() - t0);
    }
    if (signal?.aborted) throw e;
    return findingResult(cfg, seed, workerFinding('crash', machine, seed, { why: 'the worker died running this seed', ...errorDetails(e) }), performance.now() - t0);
  } finally {
    watch.stop();
    signal?.removeEventListener('abort', onStop);
  }
}
