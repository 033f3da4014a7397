// report.html: one self-contained page (inline CSS and SVG, no script, no network) that shows a run's
// results folder at a glance: status, violations with their replay commands, latency percentile
// plots per operation and lock, anon-fault fallback outcomes, folio orders, TLB/contpte costs.
import { join } from 'node:path';
import { escapeXml as esc } from './escape.js';
import type { Hgrm } from './hgrm.js';
import type { HistSummary } from '../machine/histograms.js';
import { writeAtomic } from './results.js';
import { readHgrms, readSummary } from './folder.js';
import { failed, reachFindings, reachGroups, reachWhere, statusLine, type Summary, variantCounts } from './summary.js';
import { type BarRow, barChart, columnChart, fmtNum, percentilePlot } from './svg.js';

export const REPORT_FILE = 'report.html';

export type RunStatus = 'PASS' | 'FAIL' | 'INTERRUPTED';

/** The run's verdict, as its exit code has it: interrupted first (exit 3), then violations or a reach floor not met (exit 1). */
export function runStatus(s: Summary): RunStatus {
  return s.interrupted ? 'INTERRUPTED' : failed(s) ? 'FAIL' : 'PASS';
}

/** Write DIR/report.html from DIR's summary.json (or the summary given) and .hgrm files; returns its path. */
export function writeReportHtml(dir: string, summary: Summary = readSummary(dir)): string {
  const file = join(dir, REPORT_FILE);
  writeAtomic(file, renderReportHtml(summary, readHgrms(dir)));
  return file;
}

const LOCK = /^(.+)\.(wait|hold)$/;
const isOp = (n: string): boolean => n.startsWith('op.');
const isAccess = (n: string): boolean => n === 'fault' || n.startsWith('access.');
const isLock = (n: string): boolean => !isOp(n) && !isAccess(n) && LOCK.test(n);
/** ptl first, then the other locks by name; wait before hold */
const lockOrder = (a: string, b: string): number => {
  const [, la, ka] = LOCK.exec(a)!, [, lb, kb] = LOCK.exec(b)!;
  if (la !== lb) return la === 'ptl' ? -1 : lb === 'ptl' ? 1 : la.localeCompare(lb);
  return kb.localeCompare(ka);
};

/** The whole page. hgrms: the run's .hgrm files by histogram name. */
export function renderReportHtml(s: Summary, hgrms: ReadonlyMap<string, Hgrm>): string {
  const status = runStatus(s);
  const title = `foliostorm ${status}: ${s.config?.name ?? '?'} (${s.runId})`;
  const names = [...new Set([...Object.keys(s.latency ?? {}), ...hgrms.keys()])].sort();
  const body = [
    header(s, status),
    section('violations', `Violations (${s.violations.length} in ${s.signatures.length} signature${s.signatures.length === 1 ? '' : 's'})`, violations(s)),
    section('latency-ops', 'Latency per operation', plots(names.filter(isOp), s, hgrms)),
    section('latency-faults', 'Faults and user accesses', plots(names.filter(isAccess), s, hgrms)),
    section('locks', 'Lock wait and hold times', plots(names.filter(isLock).sort(lockOrder), s, hgrms)),
    ...(names.some((n) => !isOp(n) && !isAccess(n) && !isLock(n)) ? [section('latency-other', 'Other histograms', plots(names.filter((n) => !isOp(n) && !isAccess(n) && !isLock(n)), s, hgrms))] : []),
    section('anon-fault', 'Anonymous fault: order choice and fallback outcomes', anonFault(s)),
    section('folio-orders', 'Folio order distribution', folioOrders(s)),
    section('tlb', 'TLB invalidations and contpte folds/unfolds per operation', tlb(s)),
    section('ops', 'Operations', opsChart(s)),
  ].join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
${body}
<footer>foliostorm ${esc(s.version)} &middot; self-contained report of ${esc(s.runId)}: summary.json and the .hgrm files of this folder</footer>
</body>
</html>
`;
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1320px;padding:16px 24px;color:#1d232a;background:#fff}
h1{font-size:22px;margin:4px 0 10px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d5dbe1;padding-bottom:4px}
.status{display:inline-block;padding:2px 12px;border-radius:4px;color:#fff;font-weight:700;margin-right:8px}
.PASS{background:#2a9d4a}.FAIL{background:#c0392b}.INTERRUPTED{background:#d68910}
dl.meta{display:grid;grid-template-columns:max-content 1fr max-content 1fr;gap:2px 16px;margin:0}
dl.meta dt{color:#5a6570}dl.meta dd{margin:0;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px;overflow-wrap:anywhere}
nav a{margin-right:14px}
.grid{display:flex;flex-wrap:wrap;gap:10px 18px}
figure{margin:0}figcaption{font-size:12px;color:#5a6570;max-width:400px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}th,td{border:1px solid #d5dbe1;padding:3px 8px;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px}pre{background:#f4f6f8;padding:6px 8px;margin:4px 0;white-space:pre-wrap;overflow-wrap:anywhere}
.sig{border:1px solid #e3b5b0;border-left:4px solid #c0392b;padding:6px 12px;margin:10px 0;border-radius:3px}
.sig h3{font-size:15px;margin:2px 0 4px;overflow-wrap:anywhere}.muted{color:#5a6570}
svg.plot{background:#fff;font:11px system-ui,sans-serif}
svg .grid{stroke:#e3e7eb;stroke-width:1}svg .frame{fill:none;stroke:#9aa5b1}svg .axisline{stroke:#9aa5b1}
svg .tick{fill:#3d4852}svg .axis{fill:#5a6570}svg .title{font-weight:600;font-size:13px;fill:#1d232a}svg .value{fill:#1d232a}svg .empty{fill:#9aa5b1;font-size:13px}
footer{margin:32px 0 8px;color:#5a6570;font-size:12px}
`;

function section(id: string, title: string, content: string): string {
  return `<section id="${esc(id)}">\n<h2>${esc(title)}</h2>\n${content}\n</section>`;
}

/** A config field as the header shows it: "per variant" when the run's variants set it (the base value applies to none or only some seeds). */
function byVariant(c: Summary['config'], field: 'arch' | 'anonFallback' | 'batching' | 'anonOrders', base: unknown): unknown {
  return c.variants?.some((v) => v[field] !== undefined) ? 'per variant (see variants)' : base;
}

function header(s: Summary, status: RunStatus): string {
  const c = s.config ?? ({} as Summary['config']);
  const seeds = s.seeds.count ? `${s.seeds.count} (${s.seeds.list.length && s.seeds.count > 1 ? `${Math.min(...s.seeds.list)}..${Math.max(...s.seeds.list)}` : s.seeds.first})` : '0';
  const verdict = status === 'PASS' ? 'no violations'
    : status === 'FAIL' ? statusLine(s).replace(/^FAIL: /, '')
    : `stopped before the planned end${s.violations.length ? `; ${s.violations.length} violation(s) in ${s.signatures.length} signature(s) found until then` : '; no violations until then'}`;
  const rows: [string, unknown][] = [
    ['run id', s.runId], ['engine', s.engine],
    ['config', c.name], ['seeds', seeds],
    ['wall time', `${s.wallSeconds} s`], ['arch', byVariant(c, 'arch', c.arch)],
    ['cpus', c.cpus], ['fallback policy', byVariant(c, 'anonFallback', c.anonFallback)],
    ['batching', byVariant(c, 'batching', c.batching)], ['scheduler', s.engine === 'sched' ? c.scheduler : '(real concurrency)'],
    ['anon orders', byVariant(c, 'anonOrders', (c.anonOrders ?? []).join(', '))], ['inject', c.inject?.length ? c.inject.join(', ') : 'none'],
    ...(c.variants?.length ? [['variants', `${variantCounts(s).join(', ')} (seed s runs variant s mod ${c.variants.length})`] as [string, unknown]] : []),
    ...(s.steps !== undefined ? [['steps', fmtNum(s.steps)] as [string, unknown]] : []),
    ['latency unit', s.engine === 'sched' ? 'scheduler steps' : 'ns'],
    ...(s.traceHash ? [['traceHash', s.traceHash] as [string, unknown]] : []),
    ['version', s.version],
  ];
  const nav = [['violations', 'Violations'], ['latency-ops', 'Latency'], ['locks', 'Locks'], ['anon-fault', 'Anon faults'], ['folio-orders', 'Folio orders'], ['tlb', 'TLB'], ['ops', 'Operations']]
    .map(([id, t]) => `<a href="#${id}">${t}</a>`).join('');
  return `<header>
<h1><span class="status ${status}" data-status="${status}">${status}</span>foliostorm ${esc(s.engine)} run &ldquo;${esc(c.name)}&rdquo;</h1>
<p>${esc(verdict)}</p>
<dl class="meta">${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v ?? '-')}</dd>`).join('')}</dl>
<nav>${nav}</nav>
</header>`;
}

/** An artifact path as printed (relative to where the run started) -> a link relative to this folder. */
function artifactHref(art: string): string | undefined {
  const i = art.replace(/\\/g, '/').lastIndexOf('failures/');
  return i < 0 ? undefined : encodeURI(art.replace(/\\/g, '/').slice(i));
}

/** The reach rules not met (src/check/reach.ts): run-level findings, no seed, no replay. */
function unreached(s: Summary): string {
  return reachGroups(s).map((g) => `<div class="sig" data-signature="${esc(g.signature)}">
<h3>${esc(g.signature)}</h3>
<p>reach rule not met: <code>${esc(String(g.findings[0].details.expr))}</code> must be ${esc(String(g.findings[0].details.need))} (${esc(String(g.findings[0].details.why))}); was ${esc(reachWhere(g, 8))}. A run-level finding: no seed, no replay.</p>
</div>`).join('\n');
}

function violations(s: Summary): string {
  if (!s.signatures.length) return reachFindings(s).length ? unreached(s) : `<p class="muted">No violations${s.interrupted ? ' before the run was interrupted' : ''}.</p>`;
  return (reachFindings(s).length ? `${unreached(s)}\n` : '') + s.signatures.map((g) => {
    const first = s.violations.find((v) => v.signature === g.signature && v.seed === g.smallestSeed) ?? s.violations.find((v) => v.signature === g.signature);
    // one file per signature and seed: several violations of one seed share it
    const files = [...new Set(g.artifacts)];
    const arts = files.length
      ? `<ul>${files.map((a) => {
        const href = artifactHref(a);
        return `<li><code class="replay">npx foliostorm repro ${esc(a)}</code>${href ? ` <a href="${esc(href)}">artifact</a>` : ''}</li>`;
      }).join('')}</ul>`
      : '<p class="muted">no artifact written for this signature</p>';
    return `<div class="sig" data-signature="${esc(g.signature)}">
<h3>${esc(g.signature)}</h3>
<table><tr><th>invariant</th><th>kernel path</th><th class="n">count</th><th class="n">smallest seed</th></tr>
<tr><td>${esc(g.invariant)}</td><td>${esc(g.path)}</td><td class="n">${g.count}</td><td class="n">${g.smallestSeed}</td></tr></table>
${first ? `<div class="muted">details (seed ${first.seed}):</div><pre>${esc(JSON.stringify(first.details ?? {}))}</pre>` : ''}
<div class="muted">replay:</div>${arts}
</div>`;
  }).join('\n');
}

function plots(names: string[], s: Summary, hgrms: ReadonlyMap<string, Hgrm>): string {
  if (!names.length) return '<p class="muted">No histograms of this kind in this run.</p>';
  const unitOf = (n: string): string => s.latency[n]?.unit ?? hgrms.get(n)?.unit ?? (s.engine === 'sched' ? 'steps' : 'ns');
  const figs = names.map((n) => {
    const h: HistSummary | undefined = s.latency[n];
    const rows = hgrms.get(n)?.rows ?? [];
    const caption = h
      ? `count ${fmtNum(h.count)} &middot; p50 ${fmtNum(h.p50)} &middot; p90 ${fmtNum(h.p90)} &middot; p99 ${fmtNum(h.p99)} &middot; max ${fmtNum(h.max)} ${esc(h.unit)}`
      : 'not in summary.json';
    const missing = hgrms.has(n) ? '' : ` &middot; no ${esc(n)}.hgrm in the folder`;
    return `<figure>${percentilePlot(rows, { name: n, unit: unitOf(n), marks: h && h.count ? { p50: h.p50, p99: h.p99, max: h.max } : undefined })}<figcaption>${caption}${missing}</figcaption></figure>`;
  });
  return `<div class="grid">${figs.join('\n')}</div>`;
}

const byOrder = (r: Record<string, number> | undefined): [number, number][] =>
  Object.entries(r ?? {}).map(([o, n]) => [Number(o), n] as [number, number]).sort((a, b) => a[0] - b[0]);

function anonFault(s: Summary): string {
  const a = s.anonFault;
  if (!a) return '<p class="muted">No anon-fault counters in this summary.</p>';
  const orders = [...new Set([...byOrder(a.scanOrder), ...byOrder(a.allocFallback)].map(([o]) => o))].sort((x, y) => x - y);
  const scan: BarRow[] = orders.map((o) => ({ label: `order ${o}`, parts: [a.scanOrder?.[String(o)] ?? 0, a.allocFallback?.[String(o)] ?? 0] }));
  const outcomes: BarRow[] = [
    { label: 'recheck: pte changed (order 0)', parts: [a.recheckPteChanged] },
    ...byOrder(a.recheckRangeChanged).map(([o, n]) => ({ label: `recheck: range changed, order ${o}`, parts: [n] })),
    { label: 'lost race: exit (refault)', parts: [a.lostRaceExit] },
    ...byOrder(a.retryLower).map(([o, n]) => ({ label: `retry lower from order ${o}`, parts: [n] })),
    { label: 'retry order 0', parts: [a.retryOrder0] },
    { label: 'refaults', parts: [a.refaults] },
    { label: 'allocation failed (oom)', parts: [a.oom] },
  ];
  return `<p>${fmtNum(a.faults)} anonymous faults, policy <code>${esc(s.config ? byVariant(s.config, 'anonFallback', s.config.anonFallback) : undefined)}</code>; the recheck under the PTL found the range changed ${fmtNum(a.recheckChangedTotal)} times.</p>
<div class="grid">
${barChart(scan, { name: 'anon-scan-order', title: 'Order chosen by the lockless scan; allocations of that order that failed', series: ['scan chose', 'allocation failed, lower order'], grouped: true })}
${barChart(outcomes, { name: 'anon-fallback-outcomes', title: 'Fallback outcomes', series: ['count'] })}
</div>`;
}

function folioOrders(s: Summary): string {
  const cols = byOrder(s.folioOrders).map(([o, n]) => ({ label: `${o} (${fmtNum(4 << o)}K)`, value: n }));
  const total = cols.reduce((a, c) => a + c.value, 0);
  return `<p>Anonymous folios mapped, by order (${fmtNum(total)} in all).</p>${columnChart(cols, { name: 'folio-orders', title: 'Folios mapped per order (size)', yLabel: 'folios' })}`;
}

function tlb(s: Summary): string {
  const t = s.tlb;
  if (!t) return '<p class="muted">No TLB counters in this summary.</p>';
  const ops = Object.entries(t.byOp ?? {});
  const tlbi = ops.map(([op, c]) => ({ label: op, parts: [c.tlbiPage, c.tlbiRange, c.tlbiMm], note: `${fmtNum(c.tlbiPage + c.tlbiRange + c.tlbiMm)} (${c.tlbiPerOp}/op)` }));
  const cont = ops.filter(([, c]) => c.contFold || c.contUnfold).map(([op, c]) => ({ label: op, parts: [c.contUnfold, c.contFold], note: `${fmtNum(c.contUnfold)} unfolds (${c.unfoldPerOp}/op), ${fmtNum(c.contFold)} folds` }));
  const table = `<table><tr><th>operation</th><th class="n">ops</th><th class="n">tlbi page</th><th class="n">tlbi range</th><th class="n">tlbi mm</th><th class="n">tlbi / op</th><th class="n">cont unfold</th><th class="n">cont fold</th><th class="n">unfolds / op</th></tr>
${ops.map(([op, c]) => `<tr><td>${esc(op)}</td>${[c.ops, c.tlbiPage, c.tlbiRange, c.tlbiMm, c.tlbiPerOp, c.contUnfold, c.contFold, c.unfoldPerOp].map((v) => `<td class="n">${esc(fmtNum(v))}</td>`).join('')}</tr>`).join('\n')}</table>`;
  return `<p>${fmtNum(t.flushRange)} range flushes, ${fmtNum(t.flushMm)} mm flushes, ${fmtNum(t.entriesInvalidated)} TLB entries invalidated (arch <code>${esc(s.config ? byVariant(s.config, 'arch', s.config.arch) : undefined)}</code>).</p>
<div class="grid">
${barChart(tlbi, { name: 'tlb-invalidations', title: 'TLB invalidations per operation type', series: ['tlbi page', 'tlbi range', 'tlbi mm'] })}
${cont.length ? barChart(cont, { name: 'contpte', title: 'contpte unfolds and folds per operation type', series: ['unfold', 'fold'] }) : `<p class="muted">No contpte folds or unfolds${s.config?.arch === 'contpte' || s.config?.variants?.some((v) => v.arch === 'contpte') ? '' : ' (arch is not contpte)'}.</p>`}
</div>
${table}`;
}

function opsChart(s: Summary): string {
  const rows = Object.entries(s.ops ?? {}).sort((a, b) => b[1] - a[1]).map(([k, v]) => ({ label: k, parts: [v] }));
  return barChart(rows, { name: 'ops', title: 'Operations run, by type', series: ['ops'] });
}
