// Ctrl-C or SIGTERM during `foliostorm experiment batching` (synchronous work, so the run yields to
// the event loop between cells for the signal handler to run): the run stops, the cells that ran
// are written (JSON, md, SVG) marked interrupted, and the command exits 3. The CLI test waits for a
// progress line before signalling, not for time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { BATCHING_ARCHES, BATCHING_OPS, QUICK_ORDERS, renderBatchingMarkdown, renderBatchingSvg, renderBatchingTables, runBatchingExperiment } from '../../src/experiment/batching.js';
import { interruptExperiment } from '../helpers/signal-cli.js';

const SMALL = { bytes: 2 << 20, orders: [0, 4], warmup: false };

test('experiment batching, an already aborted signal: no cell runs, the result says interrupted and names every cell missing', async () => {
  const r = await runBatchingExperiment({ ...SMALL, warmup: true, signal: AbortSignal.abort() });
  assert.deepEqual(r.cells, []);
  assert.deepEqual(r.populateSame, []);
  assert.equal(r.interrupted, true);
  assert.deepEqual(r.stop, { reason: 'interrupted', detail: 'interrupted by a signal after 0 of 12 cells', missing: ['generic 4K', 'generic 64K', 'contpte 4K', 'contpte 64K'] });
  // the writers take an empty result: what the CLI writes when the signal beats the first cell
  assert.match(renderBatchingMarkdown(r, { command: 'cmd', version: '0', runId: 'id' }), /^# Batching experiment \(id\)\n\n\*\*Partial results\*\*: interrupted by a signal after 0 of 12 cells; missing: generic 4K, /);
  assert.match(renderBatchingSvg(r), /partial: interrupted by a signal after 0 of 12 cells/);
});

test('experiment batching, aborted after the first folio size: exactly its cells, the same counts a whole run gives', async () => {
  const ac = new AbortController();
  // the line that ends a folio size's cells (not the one that starts its populate)
  const r = await runBatchingExperiment({ ...SMALL, signal: ac.signal, progress: (l) => void (l.startsWith('populate ') || ac.abort()) });
  assert.deepEqual(r.cells.map((c) => `${c.op} ${c.arch} ${c.order}`), BATCHING_OPS.map((op) => `${op} generic 0`));
  assert.deepEqual(r.populateSame.map((p) => `${p.arch} ${p.order}`), ['generic 0']);
  assert.equal(r.stop?.detail, 'interrupted by a signal after 3 of 12 cells');
  assert.deepEqual(r.stop?.missing, ['generic 64K', 'contpte 4K', 'contpte 64K']);
  assert.match(renderBatchingTables(r), /same state for every arch and folio size that ran\.$/);
  const whole = await runBatchingExperiment({ ...SMALL, orders: [0], arches: ['generic'] });
  assert.equal(whole.interrupted, undefined, 'a complete run carries no interrupted key');
  const counts = (x: typeof r) => x.cells.map(({ batched: { wallNs: _a, cpuNs: _b, ...b }, perPte: { wallNs: _c, cpuNs: _d, ...p } }) => ({ b, p }));
  assert.deepEqual(counts(r), counts(whole));
});

test('experiment batching (CLI): SIGINT once a cell is done: exit 3, the cells that ran written marked interrupted, the md and the printed tables say partial', { timeout: 120_000 }, async () => {
  const all = BATCHING_OPS.length * BATCHING_ARCHES.length * QUICK_ORDERS.length;
  const { r, dir, j } = await interruptExperiment('batching', ['--quick'], /\[batching\] generic 4K: /);
  assert.ok(j.cells.length >= BATCHING_OPS.length && j.cells.length < all, `${j.cells.length} cells`);
  assert.equal(j.stop.detail, `interrupted by a signal after ${j.cells.length} of ${all} cells`);
  assert.ok(j.stop.missing.includes('contpte 2M'), j.stop.missing.join(', '));
  const partial = `**Partial results**: interrupted by a signal after ${j.cells.length} of ${all} cells; missing: `;
  const md = readFileSync(join(dir, 'batching.md'), 'utf8');
  assert.ok(md.startsWith(`# Batching experiment (${basename(dir)})\n\n${partial}`), md.slice(0, 300));
  assert.ok(r.stdout.startsWith(partial), r.stdout.slice(0, 300));
  assert.match(readFileSync(join(dir, 'batching.svg'), 'utf8'), /partial: interrupted by a signal/);
});
