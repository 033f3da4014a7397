// Shrinking an explorer artifact: steps that play no part in the failure are cut, the race's own
// steps stay, and the result replays with the same invariant.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { candidates, countSteps, shrinkScenarioArtifact } from '../../src/explore/shrink.js';
import { exploreScenario } from '../../src/explore/explore.js';
import { makeScenarioArtifact, reproduceScenario } from '../../src/explore/artifact.js';
import { parseScenario } from '../../src/scenario/format.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

// the order fallback race of configs/litmus/fault-fault-64k.refault.json, padded with steps that
// play no part in it: another VMA and its stores, a third CPU's read elsewhere, reads after
const PADDED = {
  name: 'padded-fault-race',
  config: { anonOrders: [0, 2, 4], arch: 'generic', anonFallback: 'refault' },
  steps: [
    { op: 'mmap', proc: 'A', addr: '0x800000', len: '0x4000', prot: 'rw', kind: 'anon' },
    { op: 'mmap', proc: 'A', addr: '0x400000', len: '0x10000', prot: 'rw', kind: 'anon' },
    { op: 'write', proc: 'A', addr: '0x800000', len: '0x2000' },
    { op: 'concurrent', cpus: [
      [{ op: 'read', proc: 'A', addr: '0x801000', len: '0x1000' }, { op: 'write', proc: 'A', addr: '0x400000', len: '0x1000' }],
      [{ op: 'write', proc: 'A', addr: '0x408000', len: '0x1000' }],
      [{ op: 'read', proc: 'A', addr: '0x800000', len: '0x1000' }],
    ] },
    { op: 'read', proc: 'A', addr: '0x800000', len: '0x4000' },
    { op: 'read', proc: 'A', addr: '0x400000', len: '0x10000' },
  ],
};

test('candidates: one removal each (a step, a step of a list with more than one, a list of a block with more than two, a whole block)', () => {
  const c = candidates(PADDED as unknown as Record<string, unknown>);
  assert.equal(countSteps(PADDED.steps), 9);
  // 3 plain steps before the block, the block: 3 lists (each removable) + list 0's two steps + the block, 2 after
  assert.equal(c.length, 3 + (3 + 2 + 1) + 2);
  for (const d of c) assert.equal(countSteps(d.steps as unknown[]) < 9, true);
  assert.equal(JSON.stringify(PADDED).includes('0x801000'), true, 'the original is not changed');
});

test('shrink of an explorer artifact cuts the padding and keeps the race; the shrunk artifact replays', async () => {
  const text = JSON.stringify(PADDED, null, 2);
  const sc = parseScenario(text, 'padded.json');
  const r = await exploreScenario(sc, { preemptions: 2, inject: ['fault-no-recheck'] });
  assert.equal(r.status, 'violation');
  const v = r.violations[0];
  const out = mkdtempSync(join(tmpdir(), 'explore-shrink-'));
  const art = makeScenarioArtifact(sc, text, ['fault-no-recheck'], v, join(out, 'a.json'));
  assert.equal(reproduceScenario(art).reproduced, true);
  const s = await shrinkScenarioArtifact(art, join(out, 'b.json'), { budgetMs: 60_000 });
  assert.ok(s, 'shrunk');
  assert.equal(s.finished, true);
  assert.equal(s.before.steps, 9);
  const doc = JSON.parse(s.artifact.scenario.text) as typeof PADDED;
  const flat = JSON.stringify(doc.steps);
  assert.ok(!flat.includes('0x800000') && !flat.includes('0x801000'), `the other VMA's steps are gone: ${flat}`);
  assert.ok(flat.includes('0x408000'), 'the race stays: the second store');
  assert.equal(s.after.steps < 9, true);
  assert.equal(s.after.preemptions, 1, 'the race still needs its one preemption');
  assert.deepEqual([s.before.cpus, s.after.cpus], [3, 2], 'the third CPU\'s list is cut');
  assert.equal(s.artifact.invariant, art.invariant);
  assert.equal(reproduceScenario(s.artifact).reproduced, true, 'the shrunk artifact replays along its own schedule');
  // the command: writes the shrunk artifact and says what it cut
  const file = join(out, 'art.json');
  writeFileSync(file, JSON.stringify(art, null, 1));
  const sh = spawnSync(process.execPath, [CLI, 'shrink', file, '--out', join(out, 'shrunk.json')], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(sh.status, 0, sh.stdout + sh.stderr);
  assert.match(sh.stdout, /steps\s+9 -> [1-8]\b/);
  assert.ok(readdirSync(out).includes('shrunk.json'));
  const written = JSON.parse(readFileSync(join(out, 'shrunk.json'), 'utf8')) as { shrunk: { before: { steps: number }; after: { steps: number } } };
  assert.equal(written.shrunk.before.steps, 9);
  const rep = spawnSync(process.execPath, [CLI, 'repro', join(out, 'shrunk.json')], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(rep.status, 0, rep.stdout + rep.stderr);
});

test('shrink of an explorer artifact out of budget before its own scenario is explored again: the artifact stands as it is, not finished', async () => {
  const text = JSON.stringify(PADDED, null, 2);
  const sc = parseScenario(text, 'padded.json');
  const r = await exploreScenario(sc, { preemptions: 1, inject: ['fault-no-recheck'] });
  const out = mkdtempSync(join(tmpdir(), 'explore-shrink-'));
  const art = makeScenarioArtifact(sc, text, ['fault-no-recheck'], r.violations[0], join(out, 'a.json'));
  const s = await shrinkScenarioArtifact(art, join(out, 'b.json'), { budgetMs: 0 });
  assert.ok(s, 'not "nothing to shrink": the failure was never re-explored');
  assert.equal(s.finished, false);
  assert.deepEqual(s.after, s.before);
  assert.equal(s.artifact.scenario.text, text);
  assert.equal(s.artifact.replay, `npx foliostorm repro ${join(out, 'b.json')}`);
  assert.equal(reproduceScenario(s.artifact).reproduced, true);
});
