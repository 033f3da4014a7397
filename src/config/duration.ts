// Durations as people write them: "90s", "30m", "2h", "1.5h" or a plain number of seconds. One
// parser for the --duration flag, --budget flags and a config file's "duration" field.

export class DurationError extends Error {
  constructor(readonly input: unknown) {
    super(`${JSON.stringify(input)} is not a duration (examples: 90s, 30m, 2h, 45)`);
    this.name = 'DurationError';
  }
}

/** Seconds in s; throws DurationError naming the input when it is not a duration. */
export function parseDuration(s: string | number): number {
  if (typeof s === 'number') {
    if (!Number.isFinite(s) || s < 0) throw new DurationError(s);
    return s;
  }
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|h)?$/.exec(String(s).trim());
  if (!m) throw new DurationError(s);
  return Number(m[1]) * ({ s: 1, m: 60, h: 3600 }[m[2] ?? 's'] ?? 1);
}

/** "2h 5m", "4m 10s", "12s": a number of seconds as a person reads it (progress lines, summaries). */
export function formatDuration(seconds: number): string {
  const t = Math.max(0, Math.round(seconds));
  const h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), s = t % 60;
  if (h) return `${h}h${m ? ` ${m}m` : ''}`;
  if (m) return `${m}m${s ? ` ${s}s` : ''}`;
  return `${s}s`;
}
