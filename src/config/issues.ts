// Config and scenario errors a person can act on: each zod issue becomes "expected X, found Y"
// (zod's own messages say "expected int, received number" for 1.5 and leave out the value of a
// number out of range or of an unknown enum value), and an unknown key or value gets the nearest
// allowed name.
import type { z } from 'zod';

type Issue = z.core.$ZodIssue & { input?: unknown };

/**
 * What an issue says about the field, without the file and path: "expected an integer, found 1.5".
 * A schema may word the expectation itself: a message of its own that starts with "expected " is
 * kept, and ", found ..." follows (a custom issue may say what was found in params.found).
 */
export function describeIssue(issue: Issue, schema: z.ZodType): string {
  const missing = issue.input === undefined;
  const found = missing ? 'nothing (the field is missing)' : show(issue.input);
  const typed = missing ? found : showTyped(issue.input);
  if (issue.message.startsWith('expected ')) {
    const given = issue.code === 'custom' && typeof issue.params?.found === 'string' ? issue.params.found : issue.code === 'invalid_type' || issue.code === 'invalid_union' ? typed : found;
    return `${issue.message}, found ${given}`;
  }
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${article(issue.expected)}, found ${typed}`;
    case 'too_small':
      return issue.origin === 'array'
        ? `expected at least ${issue.minimum} entr${Number(issue.minimum) === 1 ? 'y' : 'ies'}, found ${found}`
        : issue.origin === 'string'
          ? `expected ${Number(issue.minimum) === 1 ? 'a non-empty string' : `at least ${issue.minimum} characters`}, found ${found}`
          : `expected ${issue.inclusive ? 'at least' : 'more than'} ${issue.minimum}, found ${found}`;
    case 'too_big':
      return issue.origin === 'array'
        ? `expected at most ${issue.maximum} entr${Number(issue.maximum) === 1 ? 'y' : 'ies'}, found ${found}`
        : issue.origin === 'string'
          ? `expected at most ${issue.maximum} characters, found ${found}`
          : `expected ${issue.inclusive ? 'at most' : 'less than'} ${issue.maximum}, found ${found}`;
    case 'invalid_value':
      return `expected ${oneOf(issue.values)}, found ${found}${valueHint(issue.input, issue.values)}`;
    case 'invalid_union': {
      // a discriminated union whose tag matches no option ({"op": "frobnicate"}): the issue's
      // input is the whole object, its path ends at the tag
      const u = issue as Issue & { discriminator?: string; options?: unknown[] };
      if (u.discriminator !== undefined && u.options) {
        const tag = isRecord(issue.input) ? issue.input[u.discriminator] : undefined;
        return `expected ${oneOf(u.options)}, found ${tag === undefined ? 'nothing (the field is missing)' : show(tag)}${valueHint(tag, u.options)}`;
      }
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
 * unrecognized_keys issue (with its full path), the description otherwise. `root`, the input the
 * schema parsed, lets the allowed keys be found below a discriminated union (each scenario step
 * takes the keys of its op).
 */
export function issueLines(issue: Issue, schema: z.ZodType, root?: unknown): { path: PropertyKey[]; text: string }[] {
  if (issue.code !== 'unrecognized_keys') return [{ path: issue.path, text: describeIssue(issue, schema) }];
  const allowed = objectKeysAt(schema, issue.path, root) ?? [];
  return issue.keys.map((k) => ({ path: [...issue.path, k], text: `unknown key${hint(k, allowed)}` }));
}

const oneOf = (values: readonly unknown[]): string => (values.length === 1 ? show(values[0]) : `one of ${values.map(show).join(', ')}`);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The allowed value nearest a string that is not one of them, as a hint: ` (did you mean "rw"?)`. */
function valueHint(found: unknown, values: readonly unknown[]): string {
  if (typeof found !== 'string') return '';
  const near = nearest(found, values.filter((v): v is string => typeof v === 'string'));
  return near === null ? '' : ` (did you mean "${near}"?)`;
}

/** Nearest allowed key, or the list of them when there are few. */
function hint(key: string, allowed: readonly string[]): string {
  if (!allowed.length) return '';
  const near = nearest(key, allowed);
  if (near !== null) return ` (did you mean "${near}"?)`;
  return allowed.length <= 24 ? ` (allowed: ${allowed.join(', ')})` : ' (see README "Configuration" for the fields)';
}

/**
 * The allowed name a typo most likely meant: one edit in a short name, two in a longer one
 * (tuoch -> touch), three in a long one; never every letter ("x" is no typo of "r").
 */
function nearest(key: string, allowed: readonly string[]): string | null {
  let best = '', bestD = Infinity;
  for (const a of allowed) {
    const d = editDistance(key.toLowerCase(), a.toLowerCase());
    if (d < bestD) [best, bestD] = [a, d];
  }
  return bestD <= (key.length <= 4 ? 1 : key.length <= 8 ? 2 : 3) && bestD < key.length ? best : null;
}

/**
 * The keys of the object schema at path (unwrapping defaults, optionals, arrays and pipes), or null.
 * A discriminated union on the path is resolved by the tag of the value at that point of root.
 */
export function objectKeysAt(schema: z.ZodType, path: readonly PropertyKey[], root?: unknown): string[] | null {
  // zod 4's definitions: wrappers (default, prefault, optional) keep the wrapped type in innerType;
  // a pipe (preprocess, transform) runs `in` then `out`, and a transform's side has no shape
  type Def = { type: string; innerType?: Node; shape?: Record<string, Node>; element?: Node; in?: Node; out?: Node; discriminator?: string; options?: Node[] };
  type Node = { _zod: { def: Def; propValues?: Record<string, Set<unknown>> } };
  const unwrap = (n: Node | undefined, value: unknown): Node | undefined => {
    for (;;) {
      const d = n?._zod.def;
      if (!d) return n;
      if (d.innerType) n = d.innerType;
      else if (d.type === 'pipe') n = d.out && d.out._zod.def.type !== 'transform' ? d.out : d.in;
      else if (d.type === 'union' && d.discriminator !== undefined && d.options) {
        const tag = isRecord(value) ? value[d.discriminator] : undefined;
        n = d.options.find((o) => o._zod.propValues?.[d.discriminator!]?.has(tag));
        if (!n) return undefined;
      } else return n;
    }
  };
  let value: unknown = root;
  let n = unwrap(schema as unknown as Node, value);
  for (const k of path) {
    if (!n) return null;
    const d = n._zod.def;
    value = isRecord(value) || Array.isArray(value) ? (value as Record<string, unknown>)[String(k)] : undefined;
    n = unwrap(d.type === 'object' ? d.shape?.[String(k)] : d.type === 'array' ? d.element : undefined, value);
  }
  return n?._zod.def.type === 'object' ? Object.keys(n._zod.def.shape ?? {}) : null;
}

/** Edits between two names: insertions, deletions, substitutions and swaps of neighbours (nmae -> name is one). */
function editDistance(a: string, b: string): number {
  // optimal string alignment: Levenshtein's table plus a transposition of adjacent letters
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
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
