// Where two configs (or any JSON values) differ, field by field: merge refuses folders whose
// configs differ, compare says what changed between BASE and NEW.

export interface FieldDifference {
  /** "anonFallback", "weights.touch", "anonOrders.2" */
  field: string;
  a: unknown;
  b: unknown;
}

/** Every leaf field at which a and b differ, in sorted key order; ignore names top-level fields to skip. */
export function configDifferences(a: unknown, b: unknown, ignore: readonly string[] = []): FieldDifference[] {
  const out: FieldDifference[] = [];
  const walk = (x: unknown, y: unknown, path: string[]): void => {
    if (Object.is(x, y)) return;
    if (x && y && typeof x === 'object' && typeof y === 'object' && Array.isArray(x) === Array.isArray(y)) {
      const keys = [...new Set([...Object.keys(x), ...Object.keys(y)])].sort();
      for (const k of keys) {
        if (!path.length && ignore.includes(k)) continue;
        walk((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k], [...path, k]);
      }
      return;
    }
    out.push({ field: path.join('.') || '(whole)', a: x, b: y });
  };
  walk(a, b, []);
  return out;
}

/** A value as a message shows it: JSON, or (absent). */
export function shownValue(v: unknown): string {
  return v === undefined ? '(absent)' : JSON.stringify(v);
}
