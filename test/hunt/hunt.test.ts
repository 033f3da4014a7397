import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CellResult, cellConfig, controlMixes, planCells, runHunt, verdict } from '../../src/hunt/hunt.js';
import { renderHuntTable } from '../../src/hunt/report.js';
import { DEVIATIONS, type Deviation } from '../../src/inject/deviations.js';
import { defaultConfig } from '../../src/config/config.js';

const dev = (name: string): Deviation => DEVIATIONS.find((d) => d.name === name)!;

test('hunt: one cell per deviation and scheduler/engine, the controls last; threads has no scheduler', () => {
  const cells = planCells({ deviations: [dev('fault-order1'), dev('fault-no-recheck')], schedulers: ['random', 'pct'], engines: ['sched', 'threads'] });
  assert.deepEqual(cells.map((c) => `${c.deviation?.name ?? 'control'} ${c.scheduler}/${c.engine}`), [
    'fault-order1 random/sched', 'fault-order1 pct/sched', 'fault-order1 -/threads',
    'fault-no-recheck random/sched', 'fault-no-recheck pct/sched', 'fault-no-recheck -/threads',
    'control random/sched', 'control pct/sched', 'control -/threads',
  ]);
});

test('hunt: a cell config lays the provoking mix over the base (weights merged), then the cell settings', () => {
  const cfg = cellConfig({ cpus: 3, weights: { fork: 7 } }, { weights: { touch: 5 }, processes: 1 }, ['fault-order1'], 'sched', 'pct', 2);
  assert.equal(cfg.cpus, 3);
  assert.equal(cfg.processes, 1);
  assert.equal(cfg.weights.fork, 7);
  assert.equal(cfg.weights.touch, 5);
  assert.deepEqual(cfg.inject, ['fault-order1']);
  assert.equal(cfg.scheduler, 'pct');
  assert.ok(cfg.pctSteps > 0, 'pct: the step estimate is resolved per cell');
  const t = cellConfig({ cpus: 3 }, {}, [], 'threads', 'random', 2);
  assert.equal(t.cpus, 2, 'threads: one simulated CPU per worker');
  assert.throws(() => cellConfig({}, { anonOrders: [1] }, ['x'], 'sched', 'random', 2), /hunt profile of x: field "anonOrders"/);
});

test('hunt: the control runs the unmodified defaults and every distinct provoking mix', () => {
  const a = { ...dev('fault-order1'), provoke: { opsPerCpu: 50 } };
  const b = { ...dev('fault-no-recheck'), provoke: { opsPerCpu: 50 } };
  const c = { ...dev('fault-refcount-late'), provoke: { processes: 1 } };
  assert.deepEqual(controlMixes([a, b, c]), [{}, { opsPerCpu: 50 }, { processes: 1 }]);
});

const cell = (over: Partial<CellResult>): CellResult => ({
  deviation: null, scheduler: 'random', engine: 'sched', detected: false, seedsRun: 10, seedsToDetection: null, secondsToDetection: null,
  seconds: 1, violation: null, signatures: [], config: defaultConfig(), interrupted: false, ...over,
});

test('hunt: the verdict fails on an undetected deviation, on a control with violations, and when interrupted', () => {
  const hit = cell({ deviation: 'a', detected: true, seedsToDetection: 3, secondsToDetection: 0.1 });
  const miss = cell({ deviation: 'a', scheduler: 'pct' });
  const clean = cell({});
  assert.equal(verdict(['a'], [hit, miss], [clean], false).pass, true, 'one scheduler detecting it is enough');
  assert.deepEqual(verdict(['a', 'b'], [hit, miss], [clean], false).undetected, ['b']);
  assert.equal(verdict(['a', 'b'], [hit, miss], [clean], false).pass, false);
  assert.equal(verdict(['a'], [hit], [cell({ detected: true, signatures: ['x@y'] })], false).pass, false);
  assert.equal(verdict(['a'], [hit], [], false).pass, false, 'no control, no pass');
  assert.equal(verdict(['a'], [hit], [clean], true).pass, false);
  const table = renderHuntTable(verdict(['a'], [hit, miss], [cell({ detected: true, signatures: ['x@y'] })], false));
  assert.match(table, /^a +random +sched +yes +3 +0\.1/m);
  assert.match(table, /^a +pct +sched +no +>10/m);
  assert.match(table, /FALSE POSITIVE/);
  assert.match(table, /^FAIL: a control found violations/m);
});

test('hunt: runs seeds until the first violation, and the control for the budget', async () => {
  // fault-order1 trips at the first seed; a mix that never faults cannot detect it
  const never = { ...dev('fault-order1'), name: 'fault-order1', provoke: { weights: { touch: 0, pin: 0, pinio: 0 } } };
  const h = await runHunt({ base: { opsPerCpu: 40 }, deviations: [dev('fault-order1')], schedulers: ['random'], engines: ['sched'], budget: 1, workers: 2 });
  assert.equal(h.cells.length, 1);
  assert.equal(h.cells[0].detected, true);
  assert.equal(h.cells[0].seedsToDetection, 1);
  assert.match(h.cells[0].violation!.signature, /\[fault-order1\]$/);
  assert.equal(h.controls.length, 1);
  assert.equal(h.controls[0].detected, false);
  assert.ok(h.controls[0].seedsRun > 1, 'the control runs for the whole budget');
  assert.equal(h.pass, true);
  const miss = await runHunt({ base: { opsPerCpu: 40 }, deviations: [never], schedulers: ['random'], engines: ['sched'], budget: 0.5, workers: 1 });
  assert.equal(miss.cells[0].detected, false);
  assert.deepEqual(miss.undetected, ['fault-order1']);
  assert.equal(miss.pass, false);
});

test('hunt --no-provoke (provoke: false): each deviation runs on the base as it is, and the control is the base alone', async () => {
  const d = dev('fault-no-recheck');
  assert.equal(d.provoke.weights?.mmapfile, 0, 'its provoking mix switches file mappings off');
  const base = { opsPerCpu: 40, weights: { mmapfile: 7 } };
  const h = await runHunt({ base, provoke: false, deviations: [d, dev('fault-order1')], schedulers: ['random'], engines: ['sched'], budget: 1, workers: 2 });
  assert.equal(h.cells[0].config.weights.mmapfile, 7, 'the base, not the provoking mix');
  assert.deepEqual(h.cells[0].config.inject, ['fault-no-recheck']);
  assert.equal(h.controls.length, 1);
  assert.equal(h.controls[0].config.weights.mmapfile, 7);
  assert.deepEqual(h.controls[0].config.inject, []);
  const tuned = await runHunt({ base, deviations: [d], schedulers: ['random'], engines: ['sched'], budget: 0.5, workers: 1 });
  assert.equal(tuned.cells[0].config.weights.mmapfile, 0, 'by default the provoking mix is laid over the base');
});

test('hunt: a seed that hangs or kills its worker is a finding of its cell (worker-hang/crash@sched), and the cell goes on', async () => {
  // the test task hangs on seed 3, throws on seed 5 and ends its thread on seed 7 (test/helpers/faulty-sched-task.ts)
  const h = await runHunt({ base: { opsPerCpu: 40, workerHangMs: 1500 }, deviations: [], schedulers: ['random'], engines: ['sched'], budget: 5, workers: 2, schedTask: new URL('../helpers/faulty-sched-task.js', import.meta.url) });
  assert.equal(h.controls.length, 1);
  const c = h.controls[0];
  assert.deepEqual(c.signatures, ['worker-crash@sched', 'worker-hang@sched']);
  assert.equal(c.detected, true, 'a control with a hang is not clean');
  assert.ok(c.seedsRun > 7, `the cell went on after the hang and the crashes: ${c.seedsRun} seeds`);
  assert.equal(h.pass, false);
});

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const cli = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });

test('hunt (CLI): table, hunt.json and an artifact per detection that repro reproduces; bad input exits 2', () => {
  const out = mkdtempSync(join(tmpdir(), 'foliostorm-hunt-'));
  const r = cli(['hunt', '--budget', '1', '--inject', 'fault-order1', '--scheduler', 'random', '--out', out]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^deviation +scheduler +engine +detected +seeds +seconds +signature$/m);
  assert.match(r.stdout, /^fault-order1 +random +sched +yes +1 /m);
  assert.match(r.stdout, /^PASS: every deviation detected/m);
  const dir = join(out, readdirSync(out)[0]);
  const j = JSON.parse(readFileSync(join(dir, 'hunt.json'), 'utf8'));
  assert.equal(j.pass, true);
  assert.equal(j.complete, true);
  assert.equal(j.cells[0].deviation, 'fault-order1');
  assert.equal(j.controls[0].detected, false);
  const art = j.cells[0].artifact as string;
  assert.match(art, /failures\/anon-order1_quiescent_fault-order1\/seed-1-random-sched\.json$/);
  const p = cli(['repro', art]);
  assert.equal(p.status, 0, p.stdout + p.stderr);
  assert.equal(cli(['hunt', '--inject', 'no-such-bug']).status, 2);
  assert.equal(cli(['hunt', '--budget', 'soon']).status, 2);
  const bad = join(out, 'bad.json');
  writeFileSync(bad, '{ "cpus": ');
  const b = cli(['hunt', '--config', bad]);
  assert.equal(b.status, 2);
  assert.match(b.stderr, /bad\.json: not valid JSON/);
});

test('hunt (CLI): SIGINT stops it, keeps the cells found so far in hunt.json marked interrupted, exits 3', async () => {
  const out = mkdtempSync(join(tmpdir(), 'foliostorm-hunt-'));
  const child = spawn(process.execPath, [CLI, 'hunt', '--budget', '30', '--inject', 'fault-order1', '--scheduler', 'random', '--out', out]);
  let err = '';
  const code = await new Promise<number | null>((resolve) => {
    child.stderr.on('data', (d) => {
      err += d;
      // the deviation's cell is done (seed 1 detects it); the control has 30 s to go
      if (/\[hunt\] 1\/2 /.test(err) && !child.killed) child.kill('SIGINT');
    });
    child.on('exit', (c) => resolve(c));
  });
  assert.equal(code, 3, err);
  const j = JSON.parse(readFileSync(join(out, readdirSync(out)[0], 'hunt.json'), 'utf8'));
  assert.equal(j.interrupted, true);
  assert.equal(j.complete, false);
  assert.equal(j.pass, false);
  assert.equal(j.cells[0].detected, true);
  assert.ok(j.controls[0].seconds < 30, 'the control was cut short');
});
