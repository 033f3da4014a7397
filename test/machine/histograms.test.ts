// recordFast (HistSet.record's path into hdr-histogram-js) fills exactly the counts recordValue does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as hdr from 'hdr-histogram-js';
import { recordFast } from '../../src/machine/histograms.js';

const build = () => hdr.build({ bitBucketSize: 64, autoResize: true, lowestDiscernibleValue: 1, highestTrackableValue: 2, numberOfSignificantValueDigits: 3, useWebAssembly: false });

test('recordFast: the same histogram as recordValue for 0, powers of two and their neighbours, a seeded spread, and values past 2^31', () => {
  const values: number[] = [0, 1, 2, 3];
  for (let k = 1; k < 40; k++) values.push(2 ** k - 1, 2 ** k, 2 ** k + 1);
  let x = 12345;
  for (let i = 0; i < 20000; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    values.push(x % (1 << (1 + (i % 31)))); // every magnitude up to 2^31
  }
  const a = build(), b = build();
  for (const v of values) {
    a.recordValue(v);
    recordFast(b, v);
  }
  assert.equal(b.totalCount, a.totalCount);
  assert.equal(b.maxValue, a.maxValue);
  assert.equal(b.minNonZeroValue, a.minNonZeroValue);
  assert.equal(hdr.encodeIntoCompressedBase64(b), hdr.encodeIntoCompressedBase64(a));
  for (const p of [0, 25, 50, 90, 99, 99.9, 100]) assert.equal(b.getValueAtPercentile(p), a.getValueAtPercentile(p), `p${p}`);
});
