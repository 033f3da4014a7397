// What every command shares: the version, the default config, usage errors (exit 2), durations
// named by their flag, Ctrl-C and SIGTERM handling (with its watchdog), and the deviation-name check.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Argv } from 'yargs';
import { DEVIATIONS } from '../inject/deviations.js';
import { DurationError, parseDuration as parseSeconds } from '../config/duration.js';
import { EXIT_INTERRUPTED } from '../report/exit-codes.js';

const pkgRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const VERSION: string = JSON.parse(readFileSync(`${pkgRoot}package.json`, 'utf8')).version;
export const DEFAULT_CONFIG = `${pkgRoot}configs/smoke.json`;

/** Bad input on the command line: exit 2 with its message, never a stack trace. */
export class UsageError extends Error {}

/** One CLI command: its yargs command string, description and options, and what it does (returns the exit code). */
export interface Command {
  command: string;
  describe: string;
  builder: (y: Argv) => Argv;
  run: (a: Record<string, unknown>, argv: readonly string[]) => number | Promise<number>;
}

/** "90s", "30m", "2h", "1.5h" or a plain number of seconds (src/duration.ts); errors name the flag. */
export function parseDuration(s: string | number, flag = '--duration'): number {
  try {
    return parseSeconds(s);
  } catch (e) {
    if (e instanceof DurationError) throw new UsageError(`${flag}: ${e.message}`);
    throw e;
  }
}

/** How long a stop asked by Ctrl-C or SIGTERM may take before the watchdog ends the process (exit 3). */
export const STOP_WATCHDOG_MS = 10_000;

/** FOLIOSTORM_STOP_WATCHDOG_MS overrides STOP_WATCHDOG_MS (tests). */
export function stopWatchdogMs(): number {
  const v = Number(process.env.FOLIOSTORM_STOP_WATCHDOG_MS);
  return Number.isFinite(v) && v > 0 ? v : STOP_WATCHDOG_MS;
}

let jobs = 0;
/** An interruptible job is running: it handles Ctrl-C and SIGTERM (the CLI's default handler, which exits 3 at once, stands aside). */
export const interruptibleRunning = (): boolean => jobs > 0;

export interface InterruptOptions {
  /** The watchdog's delay (default stopWatchdogMs()). */
  watchdogMs?: number;
  /** How the process ends (tests: a function that records the code). */
  exit?: (code: number) => void;
}

/**
 * Run job with Ctrl-C and SIGTERM handled: the first asks it (through the signal) to stop and write
 * what it has, and starts a watchdog that exits 3 if the process has not ended within
 * watchdogMs (a stop that hangs: a worker that will not end, a write that blocks); a second quits
 * at once (3). The job's long work must leave the main thread free (worker threads, or turns of
 * the event loop): a signal handler runs only between turns.
 */
export async function interruptible<T>(what: string, quiet: boolean, job: (signal: AbortSignal) => Promise<T>, opts: InterruptOptions = {}): Promise<T> {
  const ac = new AbortController();
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const onSig = (sig: NodeJS.Signals) => {
    if (ac.signal.aborted) {
      process.stderr.write(`\n[foliostorm] ${sig} again: quitting at once\n`);
      exit(EXIT_INTERRUPTED);
      return;
    }
    if (!quiet) process.stderr.write(`\n[foliostorm] stopping: ${what} (press Ctrl-C again to quit at once)\n`);
    ac.abort();
    const ms = opts.watchdogMs ?? stopWatchdogMs();
    // unref: it never keeps a process alive that would end anyway; it fires only if one does not
    setTimeout(() => {
      process.stderr.write(`foliostorm: the stop took longer than ${ms / 1000} s: exiting (3); files being written may be missing\n`);
      exit(EXIT_INTERRUPTED);
    }, ms).unref();
  };
  jobs++;
  process.on('SIGINT', onSig);
  process.on('SIGTERM', onSig);
  try {
    return await job(ac.signal);
  } finally {
    jobs--;
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
  }
}

/** Run f; an error of class E (bad input a module reports) becomes a usage error (exit 2). */
export function asUsage<T>(E: new (...a: never[]) => Error, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw e instanceof E ? new UsageError(e.message) : e;
  }
}

/** Every name must be a deviation `bugs` lists. */
export function checkDeviations(names: readonly string[], flag = '--inject'): void {
  for (const n of names) if (!DEVIATIONS.some((d) => d.name === n)) throw new UsageError(`${flag}: unknown deviation "${n}" (list them with: npx foliostorm bugs)`);
}

/** asUsage for an async f. */
export async function asUsageAsync<T>(E: new (...a: never[]) => Error, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw e instanceof E ? new UsageError(e.message) : e;
  }
}

