// What an interrupted experiment says is missing (src/experiment/stop.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { interruptedStop, missingCells, partialNote } from '../../src/experiment/stop.js';

test('missingCells names a group none of whose cells ran alone, and the missing items of one that ran in part, in grid order', () => {
  const grid = ['a', 'b'].flatMap((g) => ['x', 'y', 'z'].map((i) => ({ g, i })));
  const ran = new Set(['a/x', 'a/z']);
  const missing = missingCells(grid, (c) => ran.has(`${c.g}/${c.i}`), (c) => `group ${c.g}`, (c) => c.i);
  assert.deepEqual(missing, ['group a (y)', 'group b']);
  assert.deepEqual(missingCells(grid, () => true, (c) => c.g, (c) => c.i), []);
  const stop = interruptedStop(2, 6, missing);
  assert.deepEqual(stop, { reason: 'interrupted', detail: 'interrupted by a signal after 2 of 6 cells', missing });
  assert.equal(partialNote(stop), '**Partial results**: interrupted by a signal after 2 of 6 cells; missing: group a (y), group b.');
});
