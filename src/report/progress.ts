// Progress on long runs, on stderr. On a terminal: one line rewritten in place (elapsed and
// remaining time, seeds done, operations per second, failures by signature), cut to the terminal's
// width so it never wraps. Not on a terminal (CI logs): the same line as a plain line every
// `everyMs`. Either way a line when the run starts (where its results go) and one the moment a new
// signature is found. Nothing at all when quiet (--json).
import type { Config } from '../config/config.js';
import type { RunResult } from '../engine/result.js';
import type { Aggregate } from './aggregate.js';
import { formatDuration } from '../config/duration.js';

/** Where the lines go: process.stderr, or a test's sink. */
export interface ProgressSink {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  quiet: boolean;
  /** default process.stderr */
  sink?: ProgressSink;
  /** Plain lines (not a terminal): at most one per this many ms (default 10 s). */
  everyMs?: number;
  /** Milliseconds, monotonic (default performance.now). */
  now?: () => number;
  /** Seeds the run is bounded by (null: only the duration bounds it). */
  seedLimit?: number | null;
}

const TTY_EVERY_MS = 250;

export class Progress {
  private readonly sink: ProgressSink;
  private readonly now: () => number;
  private readonly tty: boolean;
  private readonly everyMs: number;
  private readonly t0: number;
  /** When the last status line was written (a plain one first comes everyMs after the start). */
  private last: number;
  /** A status line is on the terminal (to be cleared before another line). */
  private drawn = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly bySig = new Map<string, number>();
  private violations = 0;
  private failedSeeds = 0;

  constructor(private readonly cfg: Config, private readonly opts: ProgressOptions) {
    this.sink = opts.sink ?? process.stderr;
    this.now = opts.now ?? (() => performance.now());
    this.tty = !!this.sink.isTTY;
    this.everyMs = this.tty ? TTY_EVERY_MS : (opts.everyMs ?? 10_000);
    this.t0 = this.now();
    this.last = this.tty ? -Infinity : this.t0;
  }

  /** The first line: what runs and where its results go; then a status line on a timer. */
  start(agg: Aggregate, dir: string): void {
    if (this.opts.quiet) return;
    const c = this.cfg;
    const bound = [this.opts.seedLimit != null ? `${this.opts.seedLimit} seeds` : '', c.duration > 0 ? formatDuration(c.duration) : ''].filter(Boolean).join(' or ');
    this.line(`[foliostorm] run "${c.name}": ${c.engine}, ${c.workers} worker${c.workers === 1 ? '' : 's'}, seeds from ${c.seed}${bound ? `, until ${bound}` : ''}${c.variants ? `, ${c.variants.length} variants` : ''}; results in ${dir}`);
    this.timer = setInterval(() => this.tick(agg), Math.max(100, Math.min(this.everyMs, 1000)));
    this.timer.unref();
  }

  /** A seed's result: tallies its violations; a signature not seen before gets its own line at once. */
  add(r: RunResult): void {
    if (r.violations.length) this.failedSeeds++;
    for (const v of r.violations) {
      this.violations++;
      const n = this.bySig.get(v.signature) ?? 0;
      this.bySig.set(v.signature, n + 1);
      if (n === 0 && !this.opts.quiet) this.line(`[foliostorm] new failure ${v.signature} at seed ${v.seed}${v.variant ? ` (variant ${v.variant})` : ''}${v.artifact ? `: npx foliostorm repro ${v.artifact}` : ''}`);
    }
  }

  /** The status line, if it is time for one. */
  tick(agg: Aggregate): void {
    if (this.opts.quiet) return;
    const now = this.now();
    if (now - this.last < this.everyMs) return;
    this.last = now;
    const text = this.status(agg, now);
    if (this.tty) {
      const width = Math.max(20, (this.sink.columns ?? 120) - 1);
      this.sink.write(`\r${text.length > width ? `${text.slice(0, width - 3)}...` : text}\x1b[K`);
      this.drawn = true;
    } else this.sink.write(text + '\n');
  }

  /** "[foliostorm] 4m 10s, 5m 50s left  seeds 312  ops/s 8.2k  failed 2: lost-write@writeback x2, ..." */
  status(agg: Aggregate, now = this.now()): string {
    const el = (now - this.t0) / 1000;
    const done = agg.results.length;
    let left = '';
    if (this.cfg.duration > 0) left = `, ${formatDuration(Math.max(0, this.cfg.duration - el))} left`;
    else if (this.opts.seedLimit && done > 0) left = `, ~${formatDuration(((this.opts.seedLimit - done) * el) / done)} left`;
    // out of the limit when the seeds bound the run (with a duration, the time left says more)
    const seeds = this.opts.seedLimit != null && !(this.cfg.duration > 0) ? `${done}/${this.opts.seedLimit}` : String(done);
    const ops = Object.values(agg.ops).reduce((a, b) => a + b, 0);
    return `[foliostorm] ${formatDuration(el)}${left}  seeds ${seeds}  ops/s ${short(el > 0 ? ops / el : 0)}  failed ${this.failuresText()}`;
  }

  /**
   * Failed seeds, then violations by signature: "0", or "2: lost-write@writeback x2,
   * worker-hang@sched x1" (the three commonest, the run's inject suffix left out).
   */
  private failuresText(): string {
    if (!this.violations) return '0';
    const inject = this.cfg.inject.length ? `[${this.cfg.inject.join('+')}]` : '';
    const top = [...this.bySig].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    const shown = top.slice(0, 3).map(([s, n]) => `${inject && s.endsWith(inject) ? s.slice(0, -inject.length) : s} x${n}`);
    return `${this.failedSeeds}: ${shown.join(', ')}${top.length > 3 ? `, +${top.length - 3} more` : ''}`;
  }

  /** A line of its own (clearing the status line on a terminal; the next tick redraws it). */
  private line(s: string): void {
    if (this.drawn) this.sink.write('\r\x1b[K');
    this.drawn = false;
    this.sink.write(s + '\n');
    if (this.tty) this.last = -Infinity; // redraw the status line at the next tick
  }

  /** The run is over: stop the timer, leave the last status line on the terminal. */
  done(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.drawn) this.sink.write('\n');
    this.drawn = false;
  }
}

const short = (n: number): string => (n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e4 ? `${(n / 1e3).toFixed(1)}k` : String(Math.round(n)));
