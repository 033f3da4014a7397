// Ctrl-C or SIGTERM during `foliostorm experiment fallback`: the run stops, the cells whose seeds
// all ran are written (JSON, md, SVG) marked interrupted, and the command exits 3. The CLI test
// waits for a progress line before signalling, not for time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cells, renderFallbackMarkdown, renderFallbackSvg, renderFallbackTable, runFallbackExperiment } from '../../src/experiment/fallback.js';
import { interruptExperiment } from '../helpers/signal-cli.js';

const TINY = { seeds: 2, firstSeed: 1, pagesPerCpu: 16 };
const GRID = cells().length;

test('experiment fallback, an already aborted signal: no cell runs, in this thread or over the pool; the report says interrupted and names every cell missing', async () => {
  for (const workers of [1, 2]) {
    const r = await runFallbackExperiment({ ...TINY, workers, signal: AbortSignal.abort() });
    assert.deepEqual(r.cells, [], `workers ${workers}`);
    assert.deepEqual(r.comparisons, []);
    assert.equal(r.interrupted, true);
    assert.equal(r.stop?.reason, 'interrupted');
    assert.equal(r.stop?.detail, `interrupted by a signal after 0 of ${GRID} cells`);
    assert.deepEqual(r.stop?.missing, ['low 0%', 'low 10%', 'low 50%', 'medium 0%', 'medium 10%', 'medium 50%', 'high 0%', 'high 10%', 'high 50%']);
    // the writers take an empty report: what the CLI writes when the signal beats the first cell
    assert.match(renderFallbackMarkdown(r, 'cmd'), /^# foliostorm experiment fallback\n\n\*\*Partial results\*\*: interrupted by a signal after 0 of 27 cells; missing: low 0%, /);
    assert.match(renderFallbackSvg(r), /partial: interrupted by a signal after 0 of 27 cells/);
  }
});

test('experiment fallback, aborted after the first cell: in this thread exactly that cell; over the pool that cell and any other whose seeds had all run', async () => {
  const here = new AbortController();
  const a = await runFallbackExperiment({ ...TINY, workers: 1, signal: here.signal, onCell: () => here.abort() });
  assert.equal(a.cells.length, 1);
  assert.deepEqual(a.cells[0].seeds, [1, 2], 'a cell is all its seeds');
  assert.equal(a.stop?.detail, `interrupted by a signal after 1 of ${GRID} cells`);
  assert.deepEqual(a.stop?.missing[0], 'low 0% (retry-lower, preferred-or-0)');
  assert.equal(renderFallbackTable(a).split('\n').length, 3, 'the table: head, rule, one row');
  // the cell is the one a whole run computes (an interrupted run's figures are not approximations)
  const whole = await runFallbackExperiment({ ...TINY, workers: 1, contentions: ['low'], failRates: [0], policies: ['refault'] });
  assert.equal(whole.interrupted, undefined, 'a complete run carries no interrupted key');
  assert.equal(JSON.stringify(a.cells[0]), JSON.stringify(whole.cells[0]));

  const pool = new AbortController();
  const b = await runFallbackExperiment({ ...TINY, workers: 2, signal: pool.signal, onCell: () => pool.abort() });
  assert.ok(b.cells.length >= 1 && b.cells.length < GRID, `${b.cells.length} cells`);
  assert.equal(b.interrupted, true);
  assert.equal(JSON.stringify(b.cells[0]), JSON.stringify(a.cells[0]));
  const order = cells().map((c) => `${c.contention}/${c.allocFailRate}/${c.policy}`);
  const got = b.cells.map((c) => order.indexOf(`${c.contention}/${c.allocFailRate}/${c.policy}`));
  assert.deepEqual(got, [...got].sort((x, y) => x - y), 'grid order');
  for (const c of b.cells) assert.deepEqual(c.seeds, [1, 2]);
});

test('experiment fallback (CLI): SIGINT once a cell is done: exit 3, the cells that ran written marked interrupted, the md and the printed table say partial', { timeout: 120_000 }, async () => {
  const { r, dir, j } = await interruptExperiment('fallback', ['--seeds', '4', '--pages-per-cpu', '32', '--workers', '2'], /\[experiment fallback\] 1\/27 /);
  assert.ok(j.cells.length >= 1 && j.cells.length < GRID, `${j.cells.length} cells`);
  assert.match(j.stop.detail, new RegExp(`after ${j.cells.length} of ${GRID} cells`));
  assert.ok(j.stop.missing.length >= 1);
  const md = readFileSync(join(dir, 'fallback.md'), 'utf8');
  assert.match(md, new RegExp(`^# foliostorm experiment fallback\\n\\n\\*\\*Partial results\\*\\*: interrupted by a signal after ${j.cells.length} of ${GRID} cells; missing: `));
  assert.match(readFileSync(join(dir, 'fallback.svg'), 'utf8'), /partial: interrupted by a signal/);
  assert.match(r.stdout, new RegExp(`^foliostorm experiment fallback: ${j.cells.length} cells x 4 seeds, [\\d.]+ s\n\n\\*\\*Partial results\\*\\*: interrupted by a signal after ${j.cells.length} of ${GRID} cells; missing: `));
  assert.ok(r.stdout.includes(`results   ${dir}`), r.stdout);
});
