// Batch means: the standard errors compare's seed-group noise test uses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HistSet } from '../../src/machine/histograms.js';
import { MIN_GROUPS, p99BatchSe, poolGroups, rateBatchSe, sampleSd } from '../../src/report/batch-means.js';

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-9 * Math.max(1, Math.abs(b)), `${what}: ${a} != ${b}`);

test('poolGroups: consecutive groups pooled to at least min samples, empty groups left out, a short remainder joins the last pool', () => {
  assert.deepEqual(poolGroups([50, 50, 50, 0, 120, 10], 100), [[0, 1], [2, 4, 5]]);
  assert.deepEqual(poolGroups([200, 100, 150], 100), [[0], [1], [2]]);
  assert.deepEqual(poolGroups([10, 20, 0], 100), [[0, 1]]);
  assert.deepEqual(poolGroups([0, 0], 100), []);
});

test('p99BatchSe: sd of the groups\' p99s / sqrt(groups); pooled when small; too few pools give no se', () => {
  const groups = [100, 110, 120, 130, 140].map((p99) => {
    const h = new HistSet('steps');
    for (let i = 1; i <= 99; i++) h.record('x', i); // p99 of 100 samples: the 99th value
    h.record('x', p99 * 10); // never the p99 (rank 100)
    for (let i = 0; i < 100; i++) h.record('y', p99); // p99 = p99
    return h;
  });
  const y = p99BatchSe(groups, 'y');
  assert.equal(y.groups, 5);
  close(y.se!, sampleSd([100, 110, 120, 130, 140]) / Math.sqrt(5), 'se');
  close(sampleSd([100, 110, 120, 130, 140]), Math.sqrt(250), 'sd');
  assert.equal(p99BatchSe(groups, 'x').se, 0, 'every group has the same p99');
  // 40 samples a group: pools of 3 groups, the 5 groups give one pool and a remainder: 1 < MIN_GROUPS
  const small = [1, 2, 3, 4, 5].map(() => {
    const h = new HistSet('steps');
    for (let i = 0; i < 40; i++) h.record('z', i);
    return h;
  });
  assert.deepEqual(p99BatchSe(small, 'z'), { groups: 1 });
  assert.deepEqual(p99BatchSe(small, 'absent'), { groups: 0 });
  assert.equal(MIN_GROUPS, 4);
});

test('rateBatchSe: the ratio estimator\'s spread, weighted by denominator; equal denominators give sd(rates) / sqrt(B)', () => {
  const rates = [0.01, 0.02, 0.015, 0.005, 0.012];
  const eq = rateBatchSe(rates.map((r) => [r * 1000, 1000] as const));
  assert.equal(eq.groups, 5);
  close(eq.se!, sampleSd(rates) / Math.sqrt(5), 'equal denominators');
  // unequal: sqrt(B/(B-1) * sum (k - d R)^2) / D
  const parts = [[10, 1000], [40, 2000], [3, 500], [0, 0], [20, 1500], [8, 1000]] as const;
  const K = 81, D = 6000, R = K / D;
  const want = Math.sqrt((5 / 4) * parts.filter(([, d]) => d > 0).reduce((a, [k, d]) => a + (k - d * R) ** 2, 0)) / D;
  const u = rateBatchSe(parts);
  assert.equal(u.groups, 5, 'a group without a denominator is left out');
  close(u.se!, want, 'weighted');
  assert.deepEqual(rateBatchSe([[1, 10], [2, 10], [0, 0], [3, 10]]), { groups: 3 });
});
