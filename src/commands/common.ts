// What every command shares: the version, the default config, usage errors (exit 2), durations
// named by their flag, Ctrl-C handling, and the deviation-name check.
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

/**
 * Run job with Ctrl-C and SIGTERM handled: the first asks it (through the signal) to stop and write
 * what it has; a second quits at once.
 */
export async function interruptible<T>(what: string, quiet: boolean, job: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const onSig = () => {
    if (!quiet) process.stderr.write(`\n[foliostorm] stopping: ${what} (press Ctrl-C again to quit at once)\n`);
    if (ac.signal.aborted) process.exit(EXIT_INTERRUPTED);
    ac.abort();
  };
  process.on('SIGINT', onSig);
  process.on('SIGTERM', onSig);
  try {
    return await job(ac.signal);
  } finally {
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

