// An experiment stopped by Ctrl-C or SIGTERM (the AbortSignal the CLI's interruptible() gives):
// it writes the cells that ran, marked interrupted, and says which cells are missing.

/** The `stop` of an interrupted experiment's JSON (absent when every cell ran). */
export interface ExperimentStop {
  reason: 'interrupted';
  /** "interrupted by a signal after 5 of 27 cells" */
  detail: string;
  /** The cells that did not run, grouped (see missingCells). */
  missing: string[];
}

/**
 * Let the event loop run once: a signal handler (which aborts the signal) runs only between
 * tasks, so a loop of synchronous work calls this before checking signal.aborted.
 */
export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The cells of grid (in its order) that did not run, grouped: a group none of whose cells ran is
 * named alone ("high 50%"), one that ran in part names the missing items ("medium 50%
 * (retry-lower, preferred-or-0)").
 */
export function missingCells<T>(grid: readonly T[], ran: (t: T) => boolean, group: (t: T) => string, item: (t: T) => string): string[] {
  const groups = new Map<string, { all: number; missing: string[] }>();
  for (const t of grid) {
    const g = groups.get(group(t)) ?? { all: 0, missing: [] };
    g.all++;
    if (!ran(t)) g.missing.push(item(t));
    groups.set(group(t), g);
  }
  return [...groups].filter(([, g]) => g.missing.length).map(([name, g]) => (g.missing.length === g.all ? name : `${name} (${g.missing.join(', ')})`));
}

/** The stop of a run that ended with ran of total cells, missing as missingCells gives them. */
export function interruptedStop(ran: number, total: number, missing: string[]): ExperimentStop {
  return { reason: 'interrupted', detail: `interrupted by a signal after ${ran} of ${total} cells`, missing };
}

/** The line the Markdown and the printed tables start with when the run was interrupted. */
export function partialNote(stop: ExperimentStop): string {
  return `**Partial results**: ${stop.detail}; missing: ${stop.missing.join(', ')}.`;
}
