// The one worker pool every command runs its threads through (run, hunt, experiment, repro,
// shrink): piscina, with its shutdown and its late messages handled in one place.
//
// Piscina stops a running task (its AbortSignal, or destroy()) by terminating the task's worker
// thread and forgetting the task. A worker that had already posted its result (the seed ended in
// the same instant) still delivers it; piscina finds no task for it and emits 'error' ("Unexpected
// message from Worker"), which, with no listener, is an uncaught exception: the process died with
// exit 1 and no summary (issue #18, seen in about one `run --max-failures 1` in two on a 2-core
// machine). A pool here always listens: such a result belongs to a task its caller gave up, so it
// is dropped (counted in lateMessages; one line on stderr with FOLIOSTORM_DEBUG=1). Any other error
// the pool raises outside a task (a worker thread failing between tasks) is kept in `fault`, and
// withPool reports it as an internal error once the pool is closed.
import { Piscina } from 'piscina';

export interface PoolOptions {
  /** The task module (a workers/*.js file, or a test's). */
  filename: URL;
  /** Worker threads, started at once and kept (min = max). */
  threads: number;
  /** Piscina's idleTimeout (ms; Infinity: never retire an idle thread). */
  idleTimeout?: number;
}

/** FOLIOSTORM_DEBUG=1 (or --verbose, which sets it): stacks and debug lines on stderr. */
export const debugEnabled = (): boolean => process.env.FOLIOSTORM_DEBUG === '1';

/** What piscina emits for a result whose task it no longer knows. */
const LATE = /^Unexpected message from Worker/;

let lateTotal = 0;
/** Late results dropped by every pool of this process so far (tests, debugging). */
export const lateMessagesDropped = (): number => lateTotal;

/**
 * The worker threads' node options: the process's, and where Node has require(esm) (20.17 on),
 * --no-experimental-require-module. Piscina loads a task module with require() first: on Node 20
 * that goes through require(esm), and a thread terminated in the middle of it (an early stop, a
 * Ctrl-C or a hang aborting a task on a thread still loading its module, or a pool closed while the
 * thread that replaced an aborted one loads) aborts the whole process ("FATAL ERROR:
 * v8::Module::IsGraphAsync must be used on an instantiated module", or a failed assertion in
 * ModuleWrap::CreateRequiredModuleFacade; exit 134: in 5 of 6 runs of 150 pools closed 0-400 ms
 * after their start). Without require(esm), require() fails at once and piscina falls back to
 * import(), which a terminated thread leaves cleanly (0 in 6 runs of the same).
 */
const WORKER_EXEC_ARGV = [...process.execArgv, ...(process.allowedNodeEnvironmentFlags.has('--experimental-require-module') ? ['--no-experimental-require-module'] : [])];

/** An error a pool raised outside any task: an internal error of the run. */
export class PoolFault extends Error {}

export class WorkerPool {
  private readonly piscina: Piscina;
  private closing: Promise<void> | null = null;
  /** Results delivered for tasks already aborted or dropped by close(): dropped here. */
  lateMessages = 0;
  /** The first error the pool raised outside any task, if any. */
  fault: Error | null = null;

  constructor(o: PoolOptions) {
    this.piscina = new Piscina({ filename: o.filename.href, minThreads: o.threads, maxThreads: o.threads, execArgv: WORKER_EXEC_ARGV, ...(o.idleTimeout !== undefined ? { idleTimeout: o.idleTimeout } : {}) });
    // kept for the pool's whole life, after close() too: a late result can arrive after destroy()
    this.piscina.on('error', (e: unknown) => this.onError(e));
  }

  /**
   * Run task on a thread. Aborting signal drops it if queued, or terminates its thread if running;
   * either way the promise rejects (an AbortError). After close(), rejects at once.
   */
  run<T>(task: unknown, opts: { signal?: AbortSignal } = {}): Promise<T> {
    if (this.closing) return Promise.reject(new Error('the worker pool is closed'));
    return this.piscina.run(task, { signal: opts.signal }) as Promise<T>;
  }

  /** Stop every thread (queued tasks reject, running ones are terminated); once, however often called. */
  close(): Promise<void> {
    return (this.closing ??= this.piscina.destroy());
  }

  /** After close(): a fault the pool raised outside any task is an internal error (PoolFault). */
  throwIfFault(): void {
    if (this.fault) throw new PoolFault(`worker pool: ${this.fault.message}`);
  }

  private onError(e: unknown): void {
    const err = e instanceof Error ? e : new Error(String(e));
    if (LATE.test(err.message)) {
      this.lateMessages++;
      lateTotal++;
      if (debugEnabled()) process.stderr.write(`[foliostorm] debug: dropped a worker's result for a task already stopped (${this.lateMessages} so far)\n`);
      return;
    }
    if (debugEnabled()) process.stderr.write(`[foliostorm] debug: worker pool error: ${err.stack ?? err.message}\n`);
    this.fault ??= err;
  }
}

/**
 * A pool for the duration of f: closed when f settles, whatever happened; f's error wins, else a
 * fault the pool raised outside any task is thrown (PoolFault: an internal error, exit 3).
 */
export async function withPool<T>(o: PoolOptions, f: (pool: WorkerPool) => Promise<T>): Promise<T> {
  const pool = new WorkerPool(o);
  let r: T;
  try {
    r = await f(pool);
  } finally {
    await pool.close();
  }
  pool.throwIfFault();
  return r;
}
