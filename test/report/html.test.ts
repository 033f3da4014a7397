// report.html: written by every run and by `foliostorm report DIR`, from a real small run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderReportHtml } from '../../src/report/html.js';
import { readHgrms, readSummary, ResultsInputError } from '../../src/report/folder.js';
import { decadeLabel, percentilePlot } from '../../src/report/svg.js';
import type { Summary } from '../../src/report/summary.js';
import { findAll, parseXml } from '../helpers/xml.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const cli = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
const tmp = () => mkdtempSync(join(tmpdir(), 'foliostorm-html-'));

// one real run with a deviation: violations, artifacts and every histogram of the smoke mix
const out = tmp();
const ran = cli(['run', '--inject', 'fault-order1', '--seeds', '2', '--out', out]);
const dir = join(out, readdirSync(out)[0]);
const summary = (): Summary => JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
const svgs = (html: string): string[] => html.match(/<svg\b[\s\S]*?<\/svg>/g) ?? [];

test('run writes report.html: one percentile plot per latency histogram, each a drawn curve', () => {
  assert.equal(ran.status, 1, ran.stderr + ran.stdout);
  const html = readFileSync(join(dir, 'report.html'), 'utf8');
  const s = summary();
  const hists = Object.keys(s.latency).sort();
  assert.ok(hists.length >= 10, `the smoke mix records many histograms (${hists})`);
  assert.deepEqual(hists, readdirSync(dir).filter((f) => f.endsWith('.hgrm')).map((f) => f.slice(0, -5)).sort());
  for (const k of ['ptl.wait', 'ptl.hold', 'zone_lock.wait', 'zone_lock.hold', 'mmap_lock.wait', 'xa_lock.wait', 'xa_lock.hold', 'fault', 'op.touch']) assert.ok(hists.includes(k), k);
  const plots = svgs(html).filter((x) => x.includes('data-plot="percentile"'));
  assert.deepEqual(plots.map((p) => /data-histogram="([^"]+)"/.exec(p)![1]).sort(), hists, 'one plot per histogram, no more');
  for (const p of plots) {
    const name = /data-histogram="([^"]+)"/.exec(p)![1];
    const svg = parseXml(p); // well-formed
    const line = findAll(svg, 'path').find((n) => n.attrs.class === 'line');
    assert.ok(line, `${name}: a curve`);
    const pts = line.attrs.d.match(/[ML][\d.]+ [\d.]+/g) ?? [];
    assert.ok(pts.length >= 2, `${name}: ${pts.length} points`);
    // the x axis is the log percentile axis, labelled from 0% through at least 99%
    const ticks = findAll(svg, 'text').filter((t) => t.attrs.class === 'tick').map((t) => t.text);
    for (const l of ['0%', '90%', '99%']) assert.ok(ticks.includes(l), `${name}: tick ${l} in ${ticks}`);
    assert.ok(findAll(svg, 'text').some((t) => t.text === s.latency[name].unit), `${name}: y axis labelled ${s.latency[name].unit}`);
  }
  // lock, order, TLB and fallback charts
  for (const c of ['folio-orders', 'tlb-invalidations', 'anon-scan-order', 'anon-fallback-outcomes', 'ops']) assert.match(html, new RegExp(`data-chart="${c}"`));
  for (const o of Object.keys(s.folioOrders)) assert.match(html, new RegExp(`>${o} \\(\\d+K\\)<`), `folio order ${o} has a bar`);
  for (const op of Object.keys(s.tlb.byOp)) assert.match(html, new RegExp(`<td>${op}</td>`), `tlb row ${op}`);
  for (const k of ['id="locks"', 'id="anon-fault"', 'id="tlb"']) assert.ok(html.includes(k), k);
});

test('report.html lists violations by signature with count, smallest seed and the replay command of each artifact', () => {
  const html = readFileSync(join(dir, 'report.html'), 'utf8');
  const s = summary();
  assert.match(html, /data-status="FAIL"/);
  assert.ok(s.signatures.length >= 1);
  for (const g of s.signatures) {
    const block = new RegExp(`<div class="sig" data-signature="${g.signature.replace(/[[\]]/g, '\\$&')}">([\\s\\S]*?)\\n</div>`).exec(html);
    assert.ok(block, `a block for ${g.signature}`);
    assert.match(block[1], new RegExp(`<td class="n">${g.count}</td><td class="n">${g.smallestSeed}</td>`));
    assert.ok(g.artifacts.length >= 1);
    for (const a of g.artifacts) {
      assert.ok(block[1].includes(`npx foliostorm repro ${a}`), `replay command for ${a}`);
      assert.ok(existsSync(a), `${a} exists`);
    }
    // the link is relative to the report: it opens the artifact from wherever the folder is moved
    for (const href of [...block[1].matchAll(/href="([^"]+)"/g)].map((m) => m[1])) assert.ok(existsSync(join(dir, decodeURI(href))), href);
  }
});

test('report.html needs no network: no external resource, no script', () => {
  const html = readFileSync(join(dir, 'report.html'), 'utf8');
  assert.doesNotMatch(html, /https?:\/\//);
  assert.doesNotMatch(html, /<(script|link|img|iframe|object|embed)\b/i);
  assert.doesNotMatch(html, /@import|url\(/i);
  assert.doesNotMatch(html, /(src|href)\s*=\s*["']?\/\//i);
});

test('foliostorm report DIR writes the same report.html again; a missing folder or summary.json exits 2 naming it', () => {
  const file = join(dir, 'report.html');
  const first = readFileSync(file, 'utf8');
  rmSync(file);
  const r = cli(['report', dir]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), file);
  assert.equal(readFileSync(file, 'utf8'), first);

  const missing = join(tmp(), 'no-such-run');
  const m = cli(['report', missing]);
  assert.equal(m.status, 2);
  assert.ok(m.stderr.includes(missing), m.stderr);
  // the same errors in process (each is a ResultsInputError, which the CLI exits 2 on)
  const empty = tmp();
  assert.throws(() => readSummary(empty), (e: Error) => e instanceof ResultsInputError && e.message.includes(join(empty, 'summary.json')));
  const bad = tmp();
  writeFileSync(join(bad, 'summary.json'), '{"tool": "foliostorm", ');
  assert.throws(() => readSummary(bad), /summary\.json: not readable JSON/);
  writeFileSync(join(bad, 'summary.json'), '{"tool": "other"}');
  assert.throws(() => readSummary(bad), /summary\.json: field "tool": .*foliostorm/);
});

test('report.html escapes every string it embeds', () => {
  const s = summary();
  const evil = `<script>alert("x")</script>&amp;'\u0000`;
  s.config.name = evil;
  s.runId = `run-${evil}`;
  const g = s.signatures[0];
  const sig = `${g.signature}</pre><img src=x onerror=alert(1)>`;
  for (const v of s.violations) if (v.signature === g.signature) {
    v.signature = sig;
    v.details = { note: evil };
  }
  g.signature = sig;
  g.invariant = `inv"><b>`;
  g.artifacts = [`failures/x/"><script>alert(2)</script>.json`];
  const hgrms = readHgrms(dir);
  const h = hgrms.get('fault')!;
  hgrms.set('fault', { ...h, name: evil });
  s.latency[`op.${evil}`] = s.latency.fault;
  s.ops[evil] = 1;
  const html = renderReportHtml(s, hgrms);
  assert.doesNotMatch(html, /<script|<img|<b>/i);
  assert.ok(!html.includes('\u0000'), 'a NUL is shown as \\u0000, not embedded');
  assert.ok(html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;amp;&#39;\\u0000'));
  assert.ok(html.includes('data-histogram="op.&lt;script&gt;'));
  for (const x of svgs(html)) parseXml(x); // still well-formed
});

test('status INTERRUPTED wins over FAIL (as the exit code 3 does); PASS without violations', () => {
  const s = summary();
  const hgrms = readHgrms(dir);
  assert.match(renderReportHtml({ ...s, interrupted: true }, hgrms), /data-status="INTERRUPTED"/);
  assert.match(renderReportHtml({ ...s, violations: [], signatures: [] }, hgrms), /data-status="PASS"[\s\S]*No violations\./);
});

test('percentile axis: x = log10(1/(1-p)), decades labelled 0%, 90%, 99%, 99.9%, ...', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5].map(decadeLabel), ['0%', '90%', '99%', '99.9%', '99.99%', '99.999%']);
  const rows = [
    { value: 1, percentile: 0, totalCount: 1 },
    { value: 10, percentile: 0.9, totalCount: 900 },
    { value: 20, percentile: 0.99, totalCount: 990 },
    { value: 40, percentile: 0.999, totalCount: 999 },
    { value: 50, percentile: 1, totalCount: 1000 },
  ];
  const svg = parseXml(percentilePlot(rows, { name: 'h', unit: 'steps' }));
  const ticks = findAll(svg, 'text').filter((t) => t.attrs.class === 'tick' && t.text.endsWith('%'));
  assert.deepEqual(ticks.map((t) => t.text), ['0%', '90%', '99%', '99.9%']);
  const tickX = Object.fromEntries(ticks.map((t) => [t.text, Number(t.attrs.x)]));
  const pts = findAll(svg, 'path').find((n) => n.attrs.class === 'line')!.attrs.d.match(/[\d.]+ [\d.]+/g)!.map((p) => p.split(' ').map(Number));
  assert.deepEqual(pts.map((p) => p[0]), [tickX['0%'], tickX['90%'], tickX['99%'], tickX['99.9%'], tickX['99.9%']], 'each row on its decade; the max at the right edge');
  // y is linear from 0: value 20 is twice as high above the axis as value 10
  const base = pts[0][1] + (pts[0][1] - pts[1][1]) / 9; // y of value 0
  assert.ok(Math.abs((base - pts[2][1]) - 2 * (base - pts[1][1])) < 0.5);
  // ns values show in us or ms when large
  assert.ok(findAll(parseXml(percentilePlot(rows.map((r) => ({ ...r, value: r.value * 1e6 })), { name: 'h', unit: 'ns' })), 'text').some((t) => t.text === 'ms'));
  // no samples: the axes and a note, no curve
  assert.match(percentilePlot([], { name: 'h', unit: 'ns' }), /no samples/);
});

test('percentile axis with many decades: every other label a line lower, so "99.999%" and "99.9999%" do not overlap', () => {
  const rows = [0, 0.9, 0.99, 0.999, 0.9999, 0.99999, 0.999999].map((percentile, i) => ({ value: i + 1, percentile, totalCount: i }));
  const ticks = findAll(parseXml(percentilePlot(rows, { name: 'h', unit: 'steps' })), 'text').filter((t) => t.attrs.class === 'tick' && t.text.endsWith('%'));
  assert.deepEqual(ticks.map((t) => t.text), ['0%', '90%', '99%', '99.9%', '99.99%', '99.999%', '99.9999%']);
  const y = ticks.map((t) => Number(t.attrs.y));
  for (let k = 1; k < y.length; k++) assert.notEqual(y[k], y[k - 1], `${ticks[k - 1].text} and ${ticks[k].text} on different lines`);
  // few decades: one line
  const few = findAll(parseXml(percentilePlot(rows.slice(0, 3), { name: 'h', unit: 'steps' })), 'text').filter((t) => t.attrs.class === 'tick' && t.text.endsWith('%'));
  assert.equal(new Set(few.map((t) => t.attrs.y)).size, 1);
});

test('a run on model variants: the header says which fields vary and lists the variants with their seeds', () => {
  const s = summary();
  const v: Summary = {
    ...s,
    config: { ...s.config, variants: [{ arch: 'generic' }, { arch: 'contpte', anonFallback: 'retry-lower' }] },
    perSeed: s.perSeed.map((p, i) => ({ ...p, variant: i % 2 ? 'contpte+retry-lower' : 'generic' })),
  };
  const html = renderReportHtml(v, readHgrms(dir));
  const row = (k: string) => new RegExp(`${k}</(?:th|dt|td)>\\s*<(?:td|dd)[^>]*>([^<]*)<`).exec(html)?.[1];
  assert.equal(row('arch'), 'per variant (see variants)');
  assert.equal(row('fallback policy'), 'per variant (see variants)');
  assert.equal(row('batching'), String(s.config.batching), 'no variant sets batching');
  assert.match(row('variants') ?? '', /^generic 1 seed, contpte\+retry-lower 1 seed \(seed s runs variant s mod 2\)$/);
  assert.doesNotMatch(html, /arch is not contpte/);
});
