// A threads failure's recording (every CPU's ops, where each started in the global order, the
// flight recorder) and its replay in the sched engine. One threads run serves every test: rounds
// of fault-refcount-late until the lock-free observer catches it (as threads.test.ts does). What
// is asserted holds for every run that fails, whatever the interleaving was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type Config, defaultConfig } from '../../src/config/config.js';
import { runThreads } from '../../src/engine/threads.js';
import type { ViolationRecord } from '../../src/engine/result.js';
import { programPrefix } from '../../src/workload/program.js';
import { ResultsWriter } from '../../src/report/results.js';
import { loadArtifact } from '../../src/report/artifact.js';
import { reproduce } from '../../src/repro/repro.js';
import type { FollowOutcome } from '../../src/engine/schedulers/follow.js';

const cli = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
// a flight recorder of 1024 events: its window surely holds some op starts to check against the op log
const cfg: Config = defaultConfig({ engine: 'threads', inject: ['fault-refcount-late'], cpus: 2, ringSize: 1024 });
let failure: Promise<ViolationRecord> | undefined;

/** The first threads violation of fault-refcount-late (rounds from seed 1, at most 15 s). */
function threadsFailure(): Promise<ViolationRecord> {
  failure ??= (async () => {
    const ac = new AbortController();
    const rs = await runThreads(cfg, { seeds: null, durationSec: 15, workers: 2, signal: ac.signal, onRound: (r) => r.violations.length && ac.abort() });
    const v = rs.flatMap((r) => r.violations)[0];
    assert.ok(v, `not caught in ${rs.length} rounds`);
    return v;
  })();
  return failure;
}

/** The failure written by the results writer, as a run would, and its path. */
async function artifactFile(): Promise<string> {
  const v = await threadsFailure();
  const w = new ResultsWriter(mkdtempSync(join(tmpdir(), 'foliostorm-threads-replay-')), 'run');
  return w.artifact({ ...cfg, seed: v.seed }, { ...v })!;
}

test('threads recording: every CPU\'s ops (its seeded stream), their start seqs and event numbers, consistent with the flight recorder', async () => {
  const v = await threadsFailure();
  assert.ok(v.programs && v.opSeqs && v.opEventNos, 'the violation carries the recording');
  const programs = v.programs, opSeqs = v.opSeqs, opEventNos = v.opEventNos;
  assert.equal(programs.length, 2);
  let checked = 0;
  for (let c = 0; c < 2; c++) {
    // (a CPU may not have started an op yet when the other's first op is caught: both CPUs are listed)
    const n: number = programs[c].length;
    assert.ok(n <= v.opsStarted![c]);
    assert.deepEqual(programs[c], programPrefix(cfg, v.seed, c, n), `CPU ${c}: a prefix of its seeded stream`);
    assert.equal(opSeqs[c].length, n);
    assert.equal(opEventNos[c].length, n);
    if (n) assert.equal(opEventNos[c][0], 0, 'the first event of a CPU is its first op\'s start');
    for (let i = 1; i < n; i++) {
      assert.ok(opSeqs[c][i] > opSeqs[c][i - 1], `CPU ${c} op ${i}: seqs ascend`);
      assert.ok(opEventNos[c][i] > opEventNos[c][i - 1], `CPU ${c} op ${i}: event numbers ascend`);
    }
    if (n) assert.ok(opSeqs[c][n - 1] < v.step, 'only ops started before the detection');
    // the flight recorder's op starts are the op log's: same event number, same seq
    const ring = v.events[c];
    for (let i = 1; i < ring.length; i++) assert.equal(ring[i].n, ring[i - 1].n + 1);
    for (const e of ring) {
      if (e.event !== 'op.start' || e.seq >= v.step) continue;
      const i = opEventNos[c].indexOf(e.n);
      assert.ok(i >= 0, `CPU ${c}: ring op.start #${e.n} is in the op log`);
      assert.equal(opSeqs[c][i], e.seq);
      checked++;
    }
  }
  assert.ok(programs.some((p) => p.length > 0));
  assert.ok(checked > 0, 'some op start lies in the flight recorder window');
});

test('threads artifact: written by the results writer with the recording, and read back validated', async () => {
  const v = await threadsFailure();
  const file = await artifactFile();
  const art = loadArtifact(file);
  assert.equal(art.engine, 'threads');
  assert.deepEqual(art.programs, v.programs);
  assert.deepEqual(art.opSeqs, v.opSeqs);
  assert.deepEqual(art.opEventNos, v.opEventNos);
  assert.deepEqual(art.events, v.events);
  // a recording that does not fit its programs is refused, naming the field
  const raw = JSON.parse(readFileSync(file, 'utf8'));
  raw.opSeqs[0] = raw.opSeqs[0].slice(1);
  writeFileSync(file + '.bad.json', JSON.stringify(raw));
  assert.throws(() => loadArtifact(file + '.bad.json'), /field "opSeqs"/);
});

test('threads artifact: repro replays it in the sched engine along the recorded order, byte for byte, and the signature recurs', async () => {
  const file = await artifactFile();
  const art = loadArtifact(file);
  const a = reproduce(art);
  assert.equal(a.mode, 'follow');
  assert.ok(a.reproduced);
  const run = a.runs[0];
  assert.equal(run.hit?.signature, 'refcount-below-mapcount@observer[fault-refcount-late]');
  const o = run.result.scheduler as unknown as FollowOutcome;
  assert.equal(run.result.scheduler?.name, 'follow');
  assert.ok(o.ops.started > 0);
  assert.equal(o.ops.inOrder, o.ops.started, 'every op started in the recorded global order');
  assert.equal(reproduce(art).runs[0].result.traceHash, run.result.traceHash, 'deterministic');

  const p = spawnSync(process.execPath, [cli, 'repro', file, '--attempts', '3'], { encoding: 'utf8' });
  assert.equal(p.status, 0, p.stdout + p.stderr);
  assert.match(p.stdout, /reproduced: refcount-below-mapcount@observer\[fault-refcount-late\] at step \d+ \(seed \d+, attempt 0\) \(threads artifact replayed in the sched engine along its recorded global order\)/);
  assert.match(p.stdout, /ops started \d+\/\d+ recorded, \d+ in the recorded order; window events matched/);
  assert.match(p.stdout, /events leading to the violation/);
});

test('threads artifact: repro exits 1 when the signature does not recur, after the attempts asked for', async () => {
  const file = await artifactFile();
  // the same recording with the deviation switched off: nothing to find
  const raw = JSON.parse(readFileSync(file, 'utf8'));
  raw.config.inject = [];
  writeFileSync(file + '.clean.json', JSON.stringify(raw));
  const p = spawnSync(process.execPath, [cli, 'repro', file + '.clean.json', '--attempts', '2', '--json'], { encoding: 'utf8' });
  assert.equal(p.status, 1, p.stdout + p.stderr);
  const out = JSON.parse(p.stdout);
  assert.equal(out.mode, 'follow');
  assert.equal(out.reproduced, false);
  assert.deepEqual(out.runs.map((r: { attempt: number }) => r.attempt), [0, 1]);
});

test('threads artifact: shrink replays it in sched along the recorded order, then shrinks that failure; repro of the result reproduces', async () => {
  const file = await artifactFile();
  const out = join(mkdtempSync(join(tmpdir(), 'foliostorm-threads-shrink-')), 'shrunk.json');
  const r = spawnSync(process.execPath, [cli, 'shrink', file, '--budget', '3', '--out', out, '--json'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.signature, loadArtifact(file).signature);
  const shrunk = loadArtifact(out);
  assert.equal(shrunk.engine, 'sched');
  assert.ok(shrunk.programs && shrunk.schedule);
  assert.ok(j.shrunk.after.ops <= j.shrunk.before.ops);
  const p = spawnSync(process.execPath, [cli, 'repro', out], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(p.status, 0, p.stdout + p.stderr);
});
