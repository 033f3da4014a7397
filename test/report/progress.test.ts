// Progress lines: plain periodic lines off a terminal (CI logs), one rewritten line on a terminal,
// nothing when quiet. A fake clock drives them: no wall-clock time is involved.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultConfig } from '../../src/config/config.js';
import { Aggregate } from '../../src/report/aggregate.js';
import { HistSet } from '../../src/machine/histograms.js';
import { Progress, type ProgressSink } from '../../src/report/progress.js';
import type { RunResult, ViolationRecord } from '../../src/engine/result.js';

function sink(tty: boolean, columns?: number): ProgressSink & { out: string[] } {
  const out: string[] = [];
  return { out, isTTY: tty, columns, write: (s: string) => out.push(s) };
}

const violation = (signature: string, seed: number): ViolationRecord => ({ invariant: signature.split('@')[0], path: 'p', signature, details: {}, cpu: 0, seed, engine: 'sched', step: 1, events: [] });
const result = (seed: number, touch: number, vs: ViolationRecord[] = []): RunResult => ({ seed, engine: 'sched', steps: 10, ops: { touch }, events: {}, hist: new HistSet('steps').encode(), violations: vs, wallMs: 1 });

test('progress off a terminal: a start line, a plain status line at most every everyMs, a line for each new signature', () => {
  let t = 1000;
  const s = sink(false);
  const cfg = defaultConfig({ name: 'n', duration: 600, inject: ['fault-no-recheck'] });
  const p = new Progress(cfg, { quiet: false, sink: s, now: () => t, everyMs: 10_000, seedLimit: null });
  const agg = new Aggregate('steps');
  p.start(agg, 'results/x');
  p.done(); // the timer: this test ticks by hand
  assert.deepEqual(s.out, ['[foliostorm] run "n": sched, 2 workers, seeds from 1, until 10m; results in results/x\n']);
  const feed = (r: RunResult) => {
    agg.add(r);
    p.add(r);
    p.tick(agg);
  };
  t += 3000;
  feed(result(1, 500));
  assert.equal(s.out.length, 1, 'no status line before everyMs');
  t += 7000;
  feed(result(2, 1500));
  assert.equal(s.out[1], '[foliostorm] 10s, 9m 50s left  seeds 2  ops/s 200  failed 0\n');
  t += 5000;
  const v = violation('rss-mismatch@exit_mmap[fault-no-recheck]', 3);
  v.artifact = 'results/x/failures/a/seed-3.json';
  feed(result(3, 0, [v]));
  // a new signature is told at once; the status line waits for its time
  assert.equal(s.out[2], '[foliostorm] new failure rss-mismatch@exit_mmap[fault-no-recheck] at seed 3: npx foliostorm repro results/x/failures/a/seed-3.json\n');
  assert.equal(s.out.length, 3);
  t += 6000;
  feed(result(4, 0, [violation('rss-mismatch@exit_mmap[fault-no-recheck]', 4), violation('lost-write@sync[fault-no-recheck]', 4)]));
  assert.equal(s.out[3], '[foliostorm] new failure lost-write@sync[fault-no-recheck] at seed 4\n');
  // signatures short: the run's own inject suffix left out, commonest first
  assert.equal(s.out[4], '[foliostorm] 21s, 9m 39s left  seeds 4  ops/s 95  failed 2: rss-mismatch@exit_mmap x2, lost-write@sync x1\n');
  assert.ok(s.out.every((l) => !l.includes('\r') && !l.includes('\x1b')), 'no terminal control characters in a log');
});

test('progress bounded by seeds: seeds done out of the limit, and the time left estimated from the rate', () => {
  let t = 0;
  const s = sink(false);
  const p = new Progress(defaultConfig({ duration: 0 }), { quiet: false, sink: s, now: () => t, everyMs: 1000, seedLimit: 10 });
  const agg = new Aggregate('steps');
  agg.add(result(1, 10));
  agg.add(result(2, 10));
  t = 4000;
  p.tick(agg);
  assert.deepEqual(s.out, ['[foliostorm] 4s, ~16s left  seeds 2/10  ops/s 5  failed 0\n']);
  // with a duration too (a config's huge seed count, as nightly.json's), the time left is what bounds it
  const d = sink(false);
  const q = new Progress(defaultConfig({ duration: 60 }), { quiet: false, sink: d, now: () => t, everyMs: 1000, seedLimit: 1e9 });
  t += 1000;
  q.tick(agg);
  assert.deepEqual(d.out, ['[foliostorm] 1s, 59s left  seeds 2  ops/s 20  failed 0\n']);
});

test('progress on a terminal: one line rewritten in place, cut to the terminal width; the end leaves it on its own line', () => {
  let t = 0;
  const s = sink(true, 40);
  const p = new Progress(defaultConfig({ duration: 90 }), { quiet: false, sink: s, now: () => t, seedLimit: null });
  const agg = new Aggregate('steps');
  p.tick(agg);
  t = 100;
  p.tick(agg); // within 250 ms: nothing
  t = 400;
  agg.add(result(1, 4));
  p.tick(agg);
  assert.equal(s.out.length, 2);
  for (const l of s.out) {
    assert.ok(l.startsWith('\r') && l.endsWith('\x1b[K') && !l.includes('\n'), JSON.stringify(l));
    assert.ok(l.length - 4 <= 39, `fits 40 columns: ${JSON.stringify(l)}`);
  }
  assert.equal(s.out[1], '\r[foliostorm] 0s, 1m 30s left  seeds ...\x1b[K');
  p.done();
  assert.equal(s.out[2], '\n');
});

test('progress when quiet (--json): nothing at all, failures included', () => {
  let t = 0;
  for (const tty of [false, true]) {
    const s = sink(tty);
    const p = new Progress(defaultConfig({ duration: 60 }), { quiet: true, sink: s, now: () => t, everyMs: 1, seedLimit: null });
    const agg = new Aggregate('steps');
    p.start(agg, 'results/x');
    for (let i = 1; i <= 5; i++) {
      t += 20_000;
      const r = result(i, 100, [violation(`x-${i}@p`, i)]);
      agg.add(r);
      p.add(r);
      p.tick(agg);
    }
    p.done();
    assert.deepEqual(s.out, []);
  }
});
