// Why a run stops, and the one signal that stops it early: the user's (Ctrl-C, SIGTERM: through
// interruptible() in the CLI), --max-failures being reached, or a results file that could not be
// written (a full disk). The engines watch only `signal`;
// the coordinator reads the reason for the summary and the exit code.

/**
 * seeds: every seed asked for ran; duration: the wall-clock budget ran out; max-failures: that
 * many seeds (threads: rounds) failed; interrupted: a signal asked the run to stop; write-error: a
 * results file could not be written (detail: which, and the errno); unfinished: a checkpoint
 * written while the run went on (what a killed run leaves).
 */
export type StopReason = 'seeds' | 'duration' | 'max-failures' | 'interrupted' | 'write-error' | 'unfinished';

/** summary.json `stop`. */
export interface StopInfo {
  reason: StopReason;
  /** The same, as a person reads it: "--max-failures 3 reached (3 failed seeds)". */
  detail: string;
  /** --max-failures, when given. */
  maxFailures?: number;
}

export class RunStop {
  private readonly ac = new AbortController();
  private early: 'max-failures' | 'interrupted' | 'write-error' | null = null;
  private failures = 0;
  private writeError = '';
  /** Aborted when the run must stop early: the engines stop starting seeds and finish or drop the current ones. */
  readonly signal = this.ac.signal;

  constructor(private readonly opts: { signal?: AbortSignal; maxFailures?: number }) {
    const user = opts.signal;
    if (user?.aborted) this.stop('interrupted');
    else user?.addEventListener('abort', () => this.stop('interrupted'), { once: true });
  }

  /**
   * Told the number of failed seeds so far (seeds with at least one violation; one seed can report
   * dozens, say every folio its quiescent check flags); stops the run at --max-failures.
   */
  failuresFound(n: number): void {
    this.failures = n;
    if (this.opts.maxFailures !== undefined && n >= this.opts.maxFailures) this.stop('max-failures');
  }

  /** A results file could not be written (message: the file and the errno): stop, the run is incomplete. */
  writeFailed(message: string): void {
    this.writeError ||= message;
    this.stop('write-error');
  }

  /** Stopped before its end by a signal or a failed write: the summary is marked interrupted, exit 3. */
  get interrupted(): boolean {
    return this.early === 'interrupted' || this.early === 'write-error';
  }

  /** Why the run ended: an early stop if there was one, else timeUp says whether the duration ran out. */
  info(timeUp: boolean): StopInfo {
    const max = this.opts.maxFailures;
    const reason: StopReason = this.early ?? (timeUp ? 'duration' : 'seeds');
    const detail = {
      'seeds': 'every seed ran',
      'duration': 'the duration ran out',
      'max-failures': `--max-failures ${max} reached (${this.failures} failed seed${this.failures === 1 ? '' : 's'})`,
      'interrupted': 'interrupted by a signal',
      'write-error': `${this.writeError}; the run stopped starting seeds`,
    }[reason];
    return { reason, detail, ...(max !== undefined ? { maxFailures: max } : {}) };
  }

  private stop(why: 'max-failures' | 'interrupted' | 'write-error'): void {
    this.early ??= why;
    this.ac.abort();
  }
}
