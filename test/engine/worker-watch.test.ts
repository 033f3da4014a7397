// Worker hangs and crashes: a worker that stops recording events for workerHangMs, or that dies,
// workerHangMs is 4 s, not less: on a loaded CI machine a healthy CPU thread can go a second without an event.
// becomes a finding with its seed and the last events, and the run goes on with a fresh worker,
// keeping everything found before. Test-only task files misbehave on chosen seeds
// (test/helpers/faulty-*-task.ts); the deadline is short so the test is quick, and far longer
// than any step of a healthy seed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig } from '../../src/config/config.js';
import { EXIT_VIOLATIONS, runCampaign } from '../../src/campaign/coordinator.js';
import { CRASH_SEED, EXIT_SEED, HANG_SEED } from '../helpers/faulty-sched-task.js';
import { CRASH_ROUND, HANG_ROUND } from '../helpers/faulty-cpu-task.js';
import { reproduceWorkerFault } from '../../src/repro/repro-worker.js';
import { loadArtifact } from '../../src/report/artifact.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'foliostorm-watch-'));
type V = { signature: string; seed: number; artifact?: string; details: Record<string, unknown> };

test('sched: a hung worker and two dead ones are findings of their seeds; every other seed runs and keeps its findings', async () => {
  // fault-order1's provoking mix: most seeds find anon-order1, before and after the bad seeds
  const cfg = defaultConfig({ inject: ['fault-order1'], opsPerCpu: 100, seeds: 8, workers: 2, workerHangMs: 4000 });
  const r = await runCampaign(cfg, { out: tmp(), seedsGiven: true, quiet: true, version: 't', schedTask: new URL('../helpers/faulty-sched-task.js', import.meta.url) });
  assert.equal(r.exitCode, EXIT_VIOLATIONS);
  const s = r.summary;
  assert.deepEqual(s.seeds.list, [1, 2, 3, 4, 5, 6, 7, 8], 'the run went on past the bad seeds');
  const worker = s.violations.filter((v: V) => v.signature.startsWith('worker-')).map((v: V) => `${v.signature} ${v.seed}`);
  assert.deepEqual(worker, [`worker-hang@sched[fault-order1] ${HANG_SEED}`, `worker-crash@sched[fault-order1] ${CRASH_SEED}`, `worker-crash@sched[fault-order1] ${EXIT_SEED}`]);
  const found = s.violations.filter((v: V) => v.signature === 'anon-order1@quiescent[fault-order1]').map((v: V) => v.seed);
  assert.ok(found.some((x: number) => x < HANG_SEED) && found.some((x: number) => x > EXIT_SEED), `findings before and after the bad seeds are kept: ${found}`);
  const hang = s.violations.find((v: V) => v.signature.startsWith('worker-hang'))!;
  assert.match(String(hang.details.why), /^no event for 4000 ms \(workerHangMs\)/);
  const art = JSON.parse(readFileSync(hang.artifact!, 'utf8'));
  assert.equal(art.seed, HANG_SEED);
  assert.equal(art.events.flat().length, 50, 'the last events, up to the hang, read from the machine');
  const crash = s.violations.find((v: V) => v.seed === CRASH_SEED && v.signature.startsWith('worker-crash'))!;
  assert.equal(crash.details.error, 'TypeError: deliberate crash in the test task');
  assert.match(String(crash.details.stack), /faulty-sched-task/);
  // repro re-runs the seed in a watched worker: the hang recurs with the faulty task, not with the real one
  const again = await reproduceWorkerFault(loadArtifact(hang.artifact!), { taskFile: new URL('../helpers/faulty-sched-task.js', import.meta.url) });
  assert.equal(again.reproduced, true);
  const real = await reproduceWorkerFault(loadArtifact(hang.artifact!));
  assert.equal(real.reproduced, false);
  assert.ok(real.result.steps > 0 && real.result.violations.every((v) => !v.signature.startsWith('worker-')), 'the real task runs the seed to its end');
  const exit = s.violations.find((v: V) => v.seed === EXIT_SEED)!;
  assert.ok(existsSync(exit.artifact!));
  assert.match(String(exit.details.error), /exit/i);
});

test('threads: a CPU that hangs and one that crashes end their rounds as findings; the next rounds run on a fresh pool', async () => {
  const cfg = defaultConfig({ engine: 'threads', seeds: 5, workers: 2, opsPerCpu: 100, workerHangMs: 4000 });
  const r = await runCampaign(cfg, { out: tmp(), seedsGiven: true, quiet: true, version: 't', cpuTask: new URL('../helpers/faulty-cpu-task.js', import.meta.url) });
  assert.equal(r.exitCode, EXIT_VIOLATIONS);
  const s = r.summary;
  assert.deepEqual(s.seeds.list, [1, 2, 3, 4, 5]);
  assert.deepEqual(s.violations.map((v: V) => `${v.signature} ${v.seed}`), [`worker-hang@threads ${HANG_ROUND}`, `worker-crash@threads ${CRASH_ROUND}`]);
  const [hang, crash] = s.violations as V[];
  assert.match(String(hang.details.why), /^CPU 1 recorded no event for 4000 ms/);
  const art = JSON.parse(readFileSync(hang.artifact!, 'utf8'));
  assert.equal(art.cpu, 1);
  assert.deepEqual(art.events[1].map((e: { event: string }) => e.event), ['op.start'], 'the hung CPU\'s last events');
  assert.ok(art.events[0].length > 0, 'and the other CPU\'s');
  assert.equal(crash.details.error, 'RangeError: deliberate crash in the test task');
  // the rounds after each bad one ran whole: their ops are counted
  assert.ok(s.perSeed.every((p: { seed: number }) => p.seed), JSON.stringify(s.perSeed));
  assert.ok((s.ops.touch ?? 0) > 0);
});
