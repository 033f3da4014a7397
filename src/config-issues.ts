// Config errors a person can act on: each zod issue becomes "expected X, found Y" (zod's own
// messages say "expected int, received number" for 1.5 and leave out the value of a number out of
// range or of an unknown enum value), and an unknown key gets the nearest allowed name.
import type { z } from 'zod';

type Issue = z.core.$ZodIssue & { input?: unknown };

/** What an issue says about the field, without the file and path: "expected an integer, found 1.5". */
export function describeIssue(issue: Issue, schema: z.ZodType): string {
  const missing = issue.input === undefined;
  const found = missing ? 'nothing (the field is missing)' : show(issue.input);
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${article(issue.expected)}, found ${missing ? found : showTyped(issue.input)}`;
    case 'too_small':
      return issue.origin === 'array'
        ? `expected at least ${issue.minimum} entr${Number(issue.minimum) === 1 ? 'y' : 'ies'}, found ${found}`
        : `expected ${issue.inclusive ? 'at least' : 'more than'} ${issue.minimum}, found ${found}`;
    case 'too_big':
      return issue.origin === 'array'
        ? `expected at most ${issue.maximum} entr${Number(issue.maximum) === 1 ? 'y' : 'ies'}, found ${found}`
        : `expected ${issue.inclusive ? 'at most' : 'less than'} ${issue.maximum}, found ${found}`;
    case 'invalid_value':
      return `expected ${issue.values.length === 1 ? show(issue.values[0]) : `one of ${issue.values.map(show).join(', ')}`}, found ${found}`;
    case 'invalid_union': {
      const alts = [...new Set(issue.errors.flatMap((e) => e.filter((x) => x.code === 'invalid_type').map((x) => article((x as { expected: string }).expected))))];
      return `expected ${alts.length ? alts.join(' or ') : 'another value'}, found ${showTyped(issue.input)}`;
    }
    case 'not_multiple_of':
      return `expected a multiple of ${issue.divisor}, found ${found}`;
    default:
      return missing ? issue.message : `${issue.message}, found ${found}`;
  }
}

/**
 * One line per problem: `unknown key "tuoch" (did you mean "touch"?)` for each key of an
 * unrecognized_keys issue (with its full path), the description otherwise.
 */
export function issueLines(issue: Issue, schema: z.ZodType): { path: PropertyKey[]; text: string }[] {
  if (issue.code !== 'unrecognized_keys') return [{ path: issue.path, text: describeIssue(issue, schema) }];
  const allowed = objectKeysAt(schema, issue.path) ?? [];
  return issue.keys.map((k) => ({ path: [...issue.path, k], text: `unknown key${hint(k, allowed)}` }));
}

/** Nearest allowed key, or the list of them when there are few. */
function hint(key: string, allowed: readonly string[]): string {
  if (!allowed.length) return '';
  let best = '', bestD = Infinity;
  for (const a of allowed) {
    const d = editDistance(key.toLowerCase(), a.toLowerCase());
    if (d < bestD) [best, bestD] = [a, d];
  }
  // a typo: one edit in a short name, two in a longer one (tuoch -> touch), three in a long one
  if (bestD <= (key.length <= 4 ? 1 : key.length <= 8 ? 2 : 3)) return ` (did you mean "${best}"?)`;
  return allowed.length <= 16 ? ` (allowed: ${allowed.join(', ')})` : ' (see README "Configuration" for the fields)';
}

/** The keys of the object schema at path (unwrapping defaults, optionals and arrays), or null. */
export function objectKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] | null {
  // zod 4's definitions: wrappers (default, prefault, optional) keep the wrapped type in innerType
  type Def = { type: string; innerType?: Node; shape?: Record<string, Node>; element?: Node };
  type Node = { _zod: { def: Def } };
  const unwrap = (n: Node | undefined): Node | undefined => {
    while (n?._zod.def.innerType) n = n._zod.def.innerType;
    return n;
  };
  let n = unwrap(schema as unknown as Node);
  for (const k of path) {
    if (!n) return null;
    const d = n._zod.def;
    n = unwrap(d.type === 'object' ? d.shape?.[String(k)] : d.type === 'array' ? d.element : undefined);
  }
  return n?._zod.def.type === 'object' ? Object.keys(n._zod.def.shape ?? {}) : null;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

const ARTICLES: Record<string, string> = {
  int: 'an integer', number: 'a number', string: 'a string', boolean: 'true or false', array: 'an array',
  object: 'an object', null: 'null', undefined: 'nothing', bigint: 'an integer',
};
const article = (t: string): string => ARTICLES[t] ?? t;

/** A value as it appears in the file, shortened. */
export function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** A value and, where its JSON form hides it, what it is: `"8" (a string)`, `1.5`, `[1,2] (an array)`. */
function showTyped(v: unknown): string {
  const t = v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
  if (t === 'number' || t === 'null' || t === 'undefined') return show(v);
  if (t === 'boolean') return `${v} (a boolean)`;
  return `${show(v)} (${article(t)})`;
}
