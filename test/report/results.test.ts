// The results writer: histograms.json holds every histogram in addable form next to the .hgrm files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HISTOGRAMS_FILE, ResultsWriter, writeAtomic } from '../../src/report/results.js';
import { HistSet } from '../../src/machine/histograms.js';

test('histograms() writes one .hgrm per histogram and histograms.json that decodes to the same histograms', () => {
  const h = new HistSet('steps');
  for (let i = 1; i <= 1000; i++) h.record('fault', i);
  for (let i = 0; i < 50; i++) h.record('ptl.wait', i * i);
  const w = new ResultsWriter(mkdtempSync(join(tmpdir(), 'foliostorm-test-')), 'run');
  w.histograms(h);
  assert.deepEqual(readdirSync(w.dir).sort(), ['fault.hgrm', HISTOGRAMS_FILE, 'ptl.wait.hgrm']);
  const e = JSON.parse(readFileSync(join(w.dir, HISTOGRAMS_FILE), 'utf8'));
  assert.equal(e.unit, 'steps');
  const back = HistSet.decode(e);
  assert.deepEqual(back.names(), ['fault', 'ptl.wait']);
  assert.deepEqual(back.summaries(), h.summaries());
  assert.equal(back.summary('fault').count, 1000);
  // addable: the decoded set added to itself doubles every count and keeps the percentiles
  back.add(HistSet.decode(e));
  assert.equal(back.summary('fault').count, 2000);
  assert.equal(back.summary('fault').p99, h.summary('fault').p99);
});

test('writeAtomic replaces a file whole; a write that fails (the target is a folder) keeps the old state and leaves no temporary file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'foliostorm-atomic-'));
  const f = join(dir, 'summary.json');
  writeAtomic(f, '{"a":1}\n');
  writeAtomic(f, '{"a":2}\n');
  assert.equal(readFileSync(f, 'utf8'), '{"a":2}\n');
  assert.deepEqual(readdirSync(dir), ['summary.json']);
  // rename over a non-empty folder fails after the data was written: the temporary file must go
  const blocked = join(dir, 'blocked');
  mkdirSync(join(blocked, 'inside'), { recursive: true });
  assert.throws(() => writeAtomic(blocked, 'x'));
  assert.deepEqual(readdirSync(dir).sort(), ['blocked', 'summary.json']);
  assert.deepEqual(readdirSync(blocked), ['inside']);
});
