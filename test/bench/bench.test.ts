// npm run bench's measurement functions on a tiny budget: every figure is computed and finite, its
// ratio is the quotient of what it says it divides, and the table and targets are built from it.
// Nothing about wall-clock time is asserted (machines are noisy).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { defaultConfig, loadConfigFile } from '../../src/config/config.js';
import { measurePaths } from '../../bench/measure-paths.js';
import { bareYields, measureSched } from '../../bench/sched-steps.js';
import { measureMachineScaling, measureScaling, rates } from '../../bench/scaling.js';
import { fitLine, measureMemory } from '../../bench/memory.js';
import { parseArgs, type BenchResult } from '../../bench/bench.js';
import { renderBench, targetsOf } from '../../bench/table.js';
import { countPathAtomics } from '../../bench/atomics-count.js';
import { threadsBuildFresh } from '../../src/engine/threads-code.js';

const finitePos = (x: number, what: string) => assert.ok(Number.isFinite(x) && x > 0, `${what}: ${x}`);
const smoke = loadConfigFile(fileURLToPath(new URL('../../../configs/smoke.json', import.meta.url)));

test('paths: each path in each code, ns per call over its floor of the same Atomics operations', async () => {
  const figs = await measurePaths(15, ['fault.order0', 'zap.order4']);
  assert.deepEqual(figs.map((f) => `${f.code} ${f.id}`), [
    'generators fault.order0', 'generators zap.order4', ...(threadsBuildFresh() ? ['stripped fault.order0', 'stripped zap.order4'] : []),
  ]);
  for (const f of figs) {
    finitePos(f.nsPerCall, 'ns/call');
    finitePos(f.floorNsPerCall, 'floor');
    assert.equal(f.ratio, f.nsPerCall / f.floorNsPerCall);
    assert.ok(f.atomicsPerCall >= 20, `${f.id}: ${f.atomicsPerCall} Atomics operations per call`);
    assert.equal(Object.values(f.atomicsByKind).reduce((a, b) => a + b, 0), f.atomicsPerCall);
    assert.ok(f.reps >= 5);
  }
});

test('atomics count: a path makes the same Atomics operations in both codes, and as many on every call', { skip: threadsBuildFresh() ? false : 'dist/threads missing or stale' }, async () => {
  const g = await countPathAtomics(['fork.order4', 'mprotect.order4'], 'generators');
  const s = await countPathAtomics(['fork.order4', 'mprotect.order4'], 'stripped');
  for (const id of ['fork.order4', 'mprotect.order4']) {
    assert.deepEqual(s[id].idx, g[id].idx, id);
    assert.equal(new Set(g[id].perCall).size, 1, `${id}: ${g[id].perCall}`);
    assert.equal(g[id].other, 0);
  }
});

test('sched: steps per second over a bare generator loop of the model\'s mean depth', async () => {
  const f = await measureSched({ ...smoke, opsPerCpu: 20 }, 'smoke (20 ops)', 30);
  finitePos(f.stepsPerSecond, 'steps/s');
  finitePos(f.bareNsPerYield, 'bare');
  assert.ok(f.meanDepth >= 1 && f.depth === Math.max(1, Math.round(f.meanDepth)));
  assert.ok(Math.abs(f.ratio - f.nsPerStep / f.bareNsPerYield) < 1e-9);
  assert.ok(f.steps > 0 && f.ops > 0);
  finitePos(bareYields(1000, 10, 5), 'bareYields');
});

test('scaling: steady and whole rates from arrivals; 1 and 2 workers of both engines; the machine\'s own scaling', async () => {
  // arrivals every 100 ms for 1 s: 10/s steady and whole
  const arr = Array.from({ length: 10 }, (_, i) => ({ t: 100 * (i + 1), n: 1 }));
  const r = rates(arr, 0, 1000);
  assert.ok(Math.abs(r.rate - 10) < 1e-9 && Math.abs(r.wholeRate - 10) < 1e-9, JSON.stringify(r));
  const s = await measureScaling('sched', { ...smoke, opsPerCpu: 20 }, 'smoke (20 ops)', 0.4, 1);
  const t = await measureScaling('threads', defaultConfig({ engine: 'threads', processes: 2, processPerCpu: true, opsPerCpu: 100, files: { count: 0 } }), 'low contention (100 ops)', 1.5, 1);
  for (const f of [s, t]) {
    assert.deepEqual(f.runs.map((x) => x.workers), [1, 2]);
    finitePos(f.one, `${f.engine} 1 worker`);
    finitePos(f.two, `${f.engine} 2 workers`);
    assert.equal(f.ratio, f.two / f.one);
    finitePos(f.machine.ratio, 'machine');
  }
  const m = await measureMachineScaling(50, 1);
  assert.deepEqual(m.runs.map((x) => x.threads), [1, 2]);
});

test('memory: buffer bytes per page from the layout, peak RSS from a child per size, a line fitted through them', () => {
  const f = fitLine([1, 2, 3], [5, 7, 9]);
  assert.deepEqual([f.slope, f.intercept, f.r2], [2, 3, 1]);
  const m = measureMemory([1 << 16]);
  assert.equal(m.rows.length, 1);
  finitePos(m.rows[0].sabBytes, 'SAB');
  assert.ok(m.rows[0].sabBytesPerPage >= 64, 'at least the 16 per-page words');
  finitePos(m.rows[0].maxRssBytes, 'peak RSS');
  finitePos(m.baseMaxRssBytes, 'base RSS');
});

test('bench: arguments, targets and the table', () => {
  assert.deepEqual(parseArgs([]).parts, ['paths', 'sched', 'scaling', 'memory']);
  assert.equal(parseArgs(['--quick']).seconds, 25);
  assert.equal(parseArgs(['60']).seconds, 60);
  assert.deepEqual(parseArgs(['--only', 'sched,memory']).parts, ['sched', 'memory']);
  assert.throws(() => parseArgs(['--only', 'nope']), /unknown part/);
  const r = {
    runId: 'bench-x', node: 'v20', cores: 2, loadStart: [1, 1, 1], loadEnd: [1, 1, 1], seconds: 1, wallSeconds: 1,
    paths: [{ id: 'fault.order0', code: 'generators', label: 'anon write fault, order 0', entry: 'handle_mm_fault', calls: 1, nsPerCall: 200, nsPerCallMedian: 210, floorNsPerCall: 100, ratio: 2, atomicsPerCall: 60, atomicsByKind: { load: 60 }, reps: 5 }],
    sched: { config: 'c', seed: 1, steps: 10, ops: 2, meanDepth: 6.6, depth: 7, stepsPerSecond: 1e6, nsPerStep: 1000, bareNsPerYield: 100, ratio: 10, reps: 3 },
  } as Omit<BenchResult, 'targets'>;
  const targets = targetsOf(r);
  assert.deepEqual(targets.map((x) => [x.figure, x.met]), [['path fault.order0 (generators) / floor', true], ['sched step / bare yield', false]]);
  const text = renderBench({ ...r, targets } as BenchResult);
  for (const s of ['1. kernel paths', '2. sched engine', 'targets: 1 of 2 met', 'MISSED']) assert.ok(text.includes(s), s);
});

test('bench.js: a bad argument is one line and exit 2 (no stack); --help prints the usage, exit 0', () => {
  const js = fileURLToPath(new URL('../../bench/bench.js', import.meta.url));
  const bad = spawnSync(process.execPath, [js, '--bogus'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr, 'bench: unknown argument --bogus (usage: bench.js [--quick] [--seconds N] [--only paths,sched,scaling,memory] [--out DIR])\n');
  const help = spawnSync(process.execPath, [js, '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /^usage: bench\.js /);
});
