// The coverage gate's logic (npm run coverage, scripts/coverage.mjs), apart from running anything:
// which kernel-side branches are deviation-only (read off the TypeScript source), the gate figure
// from c8's istanbul JSON, the list of unreached branches, and docs/model.md's list of them (parse,
// render, compare). Plain functions over plain data, so test/coverage.test.ts checks them on fixtures.
//
// A "branch" is c8's: one V8 block-coverage range, mapped back to src/*.ts (v8-to-istanbul makes each
// range one istanbul branch with one location). V8 gives a range for each function, each arm of
// if/else, ?:, &&, ||, ??, each switch case, each loop body, and the code after a return, throw,
// break or continue inside a block; it leaves out a range whose count equals its parent's (an arm
// taken every time its parent ran merges into the parent), and inside a function never called
// it reports only the function. A branch is reached when its count is above 0. A function never
// called is no branch of c8's (V8 gives it no block ranges): the gate counts it as one, unreached.
import ts from 'typescript';

/** The kernel side: the folders whose branches the gate counts. */
export const KERNEL_DIRS = ['src/linux', 'src/machine'];

/** The gate's default threshold: kernel-side branches reached, deviation-only ones left out (percent). */
export const DEFAULT_THRESHOLD = 95;

/** The deviation flags: the members of `interface Injections` in src/machine/deviations.ts's text. */
export function deviationFlags(deviationsTs) {
  const sf = ts.createSourceFile('deviations.ts', deviationsTs, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const flags = new Set();
  for (const s of sf.statements) {
    if (ts.isInterfaceDeclaration(s) && s.name.text === 'Injections') {
      for (const m of s.members) if (ts.isPropertySignature(m) && ts.isIdentifier(m.name)) flags.add(m.name.text);
    }
  }
  if (!flags.size) throw new Error('src/machine/deviations.ts: no flags found in interface Injections');
  return flags;
}

const unparen = (e) => {
  while (ts.isParenthesizedExpression(e)) e = e.expression;
  return e;
};

/** The flag an expression reads, if it is a read of one: `<x>.inj.<flag>` or `inj.<flag>`. */
function flagRead(e, flags) {
  e = unparen(e);
  if (!ts.isPropertyAccessExpression(e) || !flags.has(e.name.text)) return null;
  const o = unparen(e.expression);
  if ((ts.isIdentifier(o) && o.text === 'inj') || (ts.isPropertyAccessExpression(o) && o.name.text === 'inj')) return e.name.text;
  return null;
}

/**
 * The flags of which at least one is on whenever e is truthy (when), or falsy (when = false):
 * null when e's value implies no flag. `inj.f` truthy implies f; `!a` swaps; `a && b` truthy implies
 * what either implies truthy, falsy only what both imply falsy; `a || b` the other way round.
 */
export function implied(e, flags, when = true) {
  e = unparen(e);
  const f = flagRead(e, flags);
  if (f) return when ? [f] : null;
  if (ts.isPrefixUnaryExpression(e) && e.operator === ts.SyntaxKind.ExclamationToken) return implied(e.operand, flags, !when);
  if (ts.isBinaryExpression(e)) {
    const op = e.operatorToken.kind;
    const either = (op === ts.SyntaxKind.AmpersandAmpersandToken) === when; // && truthy, || falsy: one side suffices
    if (op === ts.SyntaxKind.AmpersandAmpersandToken || op === ts.SyntaxKind.BarBarToken) {
      const a = implied(e.left, flags, when);
      const b = implied(e.right, flags, when);
      if (either) return a ?? b;
      return a && b ? [...new Set([...a, ...b])] : null;
    }
  }
  return null;
}

/** Does this statement always leave its block (return, throw, break, continue; or a block ending so)? */
function exits(s) {
  if (ts.isReturnStatement(s) || ts.isThrowStatement(s) || ts.isBreakStatement(s) || ts.isContinueStatement(s)) return true;
  if (ts.isBlock(s)) return s.statements.length > 0 && exits(s.statements[s.statements.length - 1]);
  return false;
}

/**
 * The deviation-only regions of a TypeScript file: code that runs only while a named deviation is
 * injected, found from the guards alone:
 *   if (C) A else B       A when C truthy implies a flag, B when C falsy does;
 *   if (C) <exits>; rest  the rest of the block when C falsy implies a flag;
 *   C ? A : B             as if/else;
 *   L && R, L || R        R when L truthy (&&) or falsy (||) implies a flag.
 * Each region: { start, end } (character offsets, end exclusive), flags, and guard (the condition's text).
 */
export function deviationRegions(source, fileName, flags) {
  const sf = ts.createSourceFile(fileName, source, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const out = [];
  // A region starts where V8's range for that code starts, as c8 maps it back: an else arm at the
  // `else`, a ?: arm at its `?` or `:`, an operand of && or || at the operator (each from the end of
  // the code before it, so the whitespace between is inside), the rest of a block after an if.
  const add = (start, end, fl, guard) => out.push({ start, end, flags: fl, guard: guard.getText(sf) });
  const visit = (n) => {
    if (ts.isIfStatement(n)) {
      const t = implied(n.expression, flags, true);
      if (t) add(n.thenStatement.getStart(sf), n.thenStatement.end, t, n.expression);
      const f = implied(n.expression, flags, false);
      if (f && n.elseStatement) add(n.thenStatement.end, n.elseStatement.end, f, n.expression);
      if (f && !n.elseStatement && exits(n.thenStatement) && (ts.isBlock(n.parent) || ts.isSourceFile(n.parent) || ts.isCaseClause(n.parent) || ts.isDefaultClause(n.parent))) {
        const list = n.parent.statements;
        const i = list.indexOf(n);
        if (i >= 0 && i + 1 < list.length) add(n.end, list[list.length - 1].end, f, n.expression);
      }
    } else if (ts.isConditionalExpression(n)) {
      const t = implied(n.condition, flags, true);
      if (t) add(n.condition.end, n.whenTrue.end, t, n.condition);
      const f = implied(n.condition, flags, false);
      if (f) add(n.whenTrue.end, n.whenFalse.end, f, n.condition);
    } else if (ts.isBinaryExpression(n) && (n.operatorToken.kind === ts.SyntaxKind.AmpersandAmpersandToken || n.operatorToken.kind === ts.SyntaxKind.BarBarToken)) {
      const r = implied(n.left, flags, n.operatorToken.kind === ts.SyntaxKind.AmpersandAmpersandToken);
      if (r) add(n.left.end, n.right.end, r, n.left);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/** Character offset of an istanbul location (line 1-based, column 0-based; a column of -1 reads as 0) in text. */
export function offsetOf(lineStarts, loc) {
  const base = lineStarts[loc.line - 1];
  return base === undefined ? -1 : base + Math.max(0, loc.column);
}

export function lineStartsOf(text) {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  return starts;
}

/** The region a branch lies in: its start inside the region (start inclusive, end exclusive), or null. */
export function regionOf(regions, offset) {
  return regions.find((r) => offset >= r.start && offset < r.end) ?? null;
}

/**
 * The source text a branch starts with, what docs/model.md names it by: the rest of its line from
 * the branch on, or the whole line when that rest is short (`{`, `return 0;`: the line says which
 * branch); whitespace collapsed, at most 72 characters.
 */
export function snippetAt(text, lineStarts, loc) {
  const start = offsetOf(lineStarts, loc);
  const lineEnd = text.indexOf('\n', start);
  const flat = (a) => text.slice(a, lineEnd < 0 ? undefined : lineEnd).replace(/\s+/g, ' ').trim();
  let s = flat(start);
  if (s.length < 20) s = flat(lineStarts[loc.line - 1]);
  if (!s) s = '(an empty line)';
  return s.length > 72 ? `${s.slice(0, 71)}…` : s;
}

/** Is this kernel-side (src/linux, src/machine; path relative to the repository, '/'-separated)? */
export const isKernel = (rel) => KERNEL_DIRS.some((d) => rel.startsWith(`${d}/`));

/**
 * The gate over c8's istanbul JSON (coverage-final.json): files keyed by path relative to the root.
 * sources(rel) gives a file's text; flags the deviation flags. Returns per folder and in total the
 * lines and branches reached, the deviation-only branches (left out of the gate's figure), the gate
 * figure, and every unreached kernel-side branch with its snippet and, if deviation-only, its flags.
 */
export function gate(files, sources, flags, threshold = DEFAULT_THRESHOLD) {
  const dirs = Object.fromEntries(KERNEL_DIRS.map((d) => [d, { lines: { total: 0, covered: 0 }, branches: { total: 0, covered: 0 } }]));
  const excluded = {}; // rel -> { total, covered, flags }
  const unreached = [];
  let gTotal = 0;
  let gCovered = 0;
  for (const rel of Object.keys(files).sort()) {
    if (!isKernel(rel)) continue;
    const fc = files[rel];
    const d = dirs[KERNEL_DIRS.find((k) => rel.startsWith(`${k}/`))];
    const text = sources(rel);
    const starts = lineStartsOf(text);
    const regions = deviationRegions(text, rel, flags);
    for (const k of Object.keys(fc.statementMap)) {
      d.lines.total++;
      if (fc.s[k] > 0) d.lines.covered++;
    }
    const count = (loc, hit, kind) => {
      const region = regionOf(regions, offsetOf(starts, loc.start));
      if (region) {
        const e = (excluded[rel] ??= { total: 0, covered: 0, flags: [] });
        e.total++;
        if (hit) e.covered++;
        for (const f of region.flags) if (!e.flags.includes(f)) e.flags.push(f);
      } else {
        gTotal++;
        if (hit) gCovered++;
      }
      if (!hit) unreached.push({ file: rel, line: loc.start.line, column: loc.start.column, snippet: snippetAt(text, starts, loc.start), ...(kind ? { kind } : {}), ...(region ? { deviation: region.flags, guard: region.guard } : {}) });
    };
    for (const k of Object.keys(fc.branchMap)) {
      fc.branchMap[k].locations.forEach((loc, i) => {
        const hit = (fc.b[k][i] ?? 0) > 0;
        d.branches.total++;
        if (hit) d.branches.covered++;
        count(loc, hit, null);
      });
    }
    // A function never called: V8 reports it without block ranges, so c8 has it as a function and
    // lines, not as a branch (a called function's whole range is one of its branches). The gate
    // counts it as one unreached branch, so code no path calls cannot go unseen.
    for (const k of Object.keys(fc.fnMap ?? {})) if (!(fc.f[k] > 0)) count(fc.fnMap[k].loc ?? fc.fnMap[k].decl, false, 'function never called');
  }
  const pct = (c, t) => (t ? Math.floor((10000 * c) / t) / 100 : 100);
  for (const d of Object.values(dirs)) for (const m of Object.values(d)) m.pct = pct(m.covered, m.total);
  const sum = (k) => Object.values(dirs).reduce((a, d) => ({ total: a.total + d[k].total, covered: a.covered + d[k].covered }), { total: 0, covered: 0 });
  const lines = sum('lines');
  const branches = sum('branches');
  const figure = pct(gCovered, gTotal);
  unreached.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.column - b.column));
  return {
    dirs,
    kernel: { lines: { ...lines, pct: pct(lines.covered, lines.total) }, branches: { ...branches, pct: pct(branches.covered, branches.total) } },
    excluded,
    gate: { total: gTotal, covered: gCovered, pct: figure, threshold, holds: figure >= threshold },
    unreached,
  };
}

// ---- docs/model.md's list ----------------------------------------------------------------------

export const DOCS_BEGIN = '<!-- coverage:unreached:begin (npm run coverage -- --write-docs keeps this list; the why of each entry is written by hand) -->';
export const DOCS_END = '<!-- coverage:unreached:end -->';
/** The kinds of why an entry may give (the first words of its why). */
export const WHY_KINDS = ['deviation-only', 'error path', 'unreachable by design', 'gap'];

/** A code span holding s whatever backticks it contains (CommonMark: a longer fence, spaces inside). */
export function codeSpan(s) {
  const runs = s.match(/`+/g) ?? [];
  const n = runs.reduce((a, r) => Math.max(a, r.length), 0) + 1;
  const fence = '`'.repeat(n);
  return n > 1 || s.startsWith('`') || s.endsWith('`') ? `${fence} ${s} ${fence}` : `${fence}${s}${fence}`;
}

/** Read a code span at the start of s: [content, rest] or null. */
function readCodeSpan(s) {
  const m = /^(`+)/.exec(s);
  if (!m) return null;
  const fence = m[1];
  let i = fence.length;
  for (;;) {
    const j = s.indexOf(fence, i);
    if (j < 0) return null;
    if (s[j + fence.length] === '`') {
      i = j + fence.length + 1;
      continue;
    }
    let body = s.slice(fence.length, j);
    if (fence.length > 1 && body.startsWith(' ') && body.endsWith(' ') && body.trim()) body = body.slice(1, -1);
    return [body, s.slice(j + fence.length)];
  }
}

/** One entry as docs/model.md writes it: - `FILE:LINE` `SNIPPET` — WHY */
export function renderEntry(e) {
  return `- ${codeSpan(`${e.file}:${e.line}`)} ${codeSpan(e.snippet)} — ${e.why ?? 'TODO: why'}`;
}

/** The entries between the markers of a docs text; problems lists each line there that is not one. */
export function parseDocsList(markdown) {
  const b = markdown.indexOf(DOCS_BEGIN);
  const e = markdown.indexOf(DOCS_END);
  if (b < 0 || e < b) return { found: false, entries: [], problems: ['no unreached-branch list (its begin and end markers) in the docs'] };
  const entries = [];
  const problems = [];
  const body = markdown.slice(b + DOCS_BEGIN.length, e);
  for (const [i, raw] of body.split('\n').entries()) {
    const line = raw.trimEnd();
    if (!line.trim()) continue;
    const bad = (why) => problems.push(`list line ${i}: ${why}: ${line.slice(0, 100)}`);
    if (!line.startsWith('- ')) {
      bad('not an entry (- `FILE:LINE` `SNIPPET` — WHY)');
      continue;
    }
    const a = readCodeSpan(line.slice(2));
    const where = a && /^(src\/[^:]+):(\d+)$/.exec(a[0]);
    if (!where) {
      bad('no `FILE:LINE` first');
      continue;
    }
    const b2 = readCodeSpan(a[1].trimStart());
    if (!b2) {
      bad('no `SNIPPET` after the place');
      continue;
    }
    const w = /^\s*—\s*(.+)$/.exec(b2[1]);
    if (!w) {
      bad('no " — WHY" after the snippet');
      continue;
    }
    const why = w[1].trim();
    if (!WHY_KINDS.some((k) => why.toLowerCase().startsWith(k))) bad(`the why does not start with one of: ${WHY_KINDS.join(', ')}`);
    entries.push({ file: where[1], line: Number(where[2]), snippet: b2[0], why });
  }
  return { found: true, entries, problems };
}

/**
 * The run's unreached branches against the docs' entries. An entry matches a branch with the same
 * file, line and snippet; then, among what is left, the same file and snippet (moved: the code above
 * it changed). missing: unreached now, in no entry; stale: an entry for a branch reached now (or gone).
 */
export function compareWithDocs(unreached, entries) {
  const left = entries.map((e, i) => ({ ...e, i }));
  const take = (pred) => {
    const k = left.findIndex(pred);
    return k < 0 ? null : left.splice(k, 1)[0];
  };
  const matched = [];
  const rest = [];
  for (const u of unreached) {
    const m = take((e) => e.file === u.file && e.line === u.line && e.snippet === u.snippet);
    if (m) matched.push({ branch: u, entry: m });
    else rest.push(u);
  }
  const moved = [];
  const missing = [];
  for (const u of rest) {
    const m = take((e) => e.file === u.file && e.snippet === u.snippet);
    if (m) moved.push({ branch: u, entry: m });
    else missing.push(u);
  }
  return { matched, moved, missing, stale: left };
}

/**
 * The list for the docs: every unreached branch, keeping the why of its entry (matched or moved);
 * a deviation-only branch without one gets its why from its guard; any other says TODO. An entry
 * for a branch this run reached stays while its code is still there (stillThere(entry): its
 * snippet is still on its line), so a rare branch, reached by one run and not the next, keeps its
 * entry; one whose code went is dropped.
 */
export function renderDocsList(unreached, entries, stillThere = () => false) {
  const c = compareWithDocs(unreached, entries);
  const why = new Map([...c.matched, ...c.moved].map(({ branch, entry }) => [branch, entry.why]));
  const rows = unreached.map((u) => ({ ...u, why: why.get(u) ?? (u.deviation ? `deviation-only (${u.deviation.join(', ')}: under \`${u.guard.replace(/`/g, "'").replace(/\s+/g, ' ')}\`)` : 'TODO: why') }));
  for (const e of c.stale) if (stillThere(e)) rows.push({ file: e.file, line: e.line, column: -1, snippet: e.snippet, why: e.why });
  rows.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.column - b.column));
  return rows.map(renderEntry).join('\n');
}

/** markdown with the list between the markers replaced (the markers added at the end if absent). */
export function replaceDocsList(markdown, list) {
  const b = markdown.indexOf(DOCS_BEGIN);
  const e = markdown.indexOf(DOCS_END);
  if (b < 0 || e < b) return `${markdown.replace(/\n*$/, '\n\n')}${DOCS_BEGIN}\n${list}\n${DOCS_END}\n`;
  return `${markdown.slice(0, b + DOCS_BEGIN.length)}\n${list}\n${markdown.slice(e)}`;
}
