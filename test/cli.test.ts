// The command line as a user meets it: exit codes, summary.json fields, artifacts, repro.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { failureOf, parseDuration } from '../src/cli.js';
import { UsageError } from '../src/commands/common.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const run = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
const tmp = () => mkdtempSync(join(tmpdir(), 'foliostorm-test-'));
const onlyDir = (root: string) => join(root, readdirSync(root)[0]);

test('run --seeds 3 exits 0 and writes a summary.json with the required fields and .hgrm files', () => {
  const out = tmp();
  const r = run(['run', '--seed', '5', '--seeds', '3', '--out', out]);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /PASS: no violations/);
  const dir = onlyDir(out);
  const s = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
  for (const k of ['config', 'engine', 'seeds', 'ops', 'events', 'anonFault', 'folioOrders', 'tlb', 'latency', 'violations', 'traceHash']) assert.ok(k in s, `summary lacks ${k}`);
  assert.deepEqual(s.seeds.list, [5, 6, 7]);
  assert.ok(s.ops.touch > 0);
  for (const k of ['scanOrder', 'allocFallback', 'recheckPteChanged', 'recheckRangeChanged', 'retryLower', 'refaults']) assert.ok(k in s.anonFault, `anonFault lacks ${k}`);
  const lat = s.latency.fault;
  assert.equal(lat.unit, 'steps');
  for (const k of ['count', 'p50', 'p90', 'p99', 'max']) assert.equal(typeof lat[k], 'number');
  assert.ok(readdirSync(dir).includes('fault.hgrm'));
  assert.match(readFileSync(join(dir, 'ptl.wait.hgrm'), 'utf8'), /Percentile/);
});

test('the same seed twice gives the same traceHash; another seed another', () => {
  const hash = (seed: string) => {
    const r = run(['run', '--seed', seed, '--seeds', '1', '--out', tmp(), '--json']);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout).traceHash as string;
  };
  const a = hash('42');
  assert.equal(hash('42'), a);
  assert.notEqual(hash('43'), a);
});

test('--inject fault-no-recheck exits 1 with an artifact, and repro of it exits 0', () => {
  const out = tmp();
  const r = run(['run', '--inject', 'fault-no-recheck', '--seeds', '30', '--out', out]);
  assert.equal(r.status, 1, r.stderr + r.stdout);
  const s = JSON.parse(readFileSync(join(onlyDir(out), 'summary.json'), 'utf8'));
  assert.ok(s.violations.length > 0);
  // the signature names the deviation: the same invariant broken by two mutants is two findings
  for (const v of s.violations) assert.match(v.signature, /^[\w-]+@[\w/]+\[fault-no-recheck\]$/);
  const art = s.violations.find((v: { artifact?: string }) => v.artifact).artifact as string;
  const a = JSON.parse(readFileSync(art, 'utf8'));
  for (const k of ['version', 'config', 'seed', 'engine', 'schedule', 'invariant', 'signature', 'events']) assert.ok(k in a, `artifact lacks ${k}`);
  const p = run(['repro', art]);
  assert.equal(p.status, 0, p.stdout + p.stderr);
  assert.match(p.stdout, /reproduced:/);
  // a schedule that cannot be followed: repro says where it diverged and finishes the run
  const div = join(tmp(), 'diverged.json');
  writeFileSync(div, JSON.stringify({ ...a, schedule: [9, 1, ...a.schedule] }));
  const d = run(['repro', div]);
  assert.match(d.stdout, /replay diverged at step 0: recorded CPU 9 cannot run/);
  // the same artifact without the deviation does not reproduce: repro can fail
  a.config.inject = [];
  const clean = join(tmp(), 'clean.json');
  writeFileSync(clean, JSON.stringify(a));
  assert.equal(run(['repro', clean]).status, 1);
});

test('run --scheduler pct records the measured step estimate and prints the PCT bound', () => {
  const out = tmp();
  const r = run(['run', '--scheduler', 'pct', '--pct-depth', '2', '--seeds', '2', '--out', out]);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /pct +depth 2, 3 cpus, k=[\d.k]+ steps: .* p >= 1\/\(n\*k\^\(d-1\)\) = [\d.e+-]+; 99% confidence needs/);
  const s = JSON.parse(readFileSync(join(onlyDir(out), 'summary.json'), 'utf8'));
  assert.equal(s.config.scheduler, 'pct');
  assert.ok(s.config.pctSteps > 0, 'the estimate is resolved before the run and recorded');
  assert.equal(s.pct.depth, 2);
  assert.equal(s.pct.probability, 1 / (3 * s.pct.steps));
  const bad = run(['run', '--scheduler', 'pct', '--pct-depth', '0']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--pct-depth: /);
});

test('bad config and bad flags exit 2 and name the file and field', () => {
  const f = join(tmp(), 'bad.json');
  writeFileSync(f, JSON.stringify({ anonFallback: 'sometimes' }));
  const r = run(['run', '--config', f]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /bad\.json: field "anonFallback"/);
  const u = run(['run', '--inject', 'no-such-bug']);
  assert.equal(u.status, 2);
  assert.match(u.stderr, /--inject: unknown deviation "no-such-bug"/);
  assert.equal(run(['run', '--workers', '0']).status, 2);
  assert.equal(run(['frobnicate']).status, 2);
});

test('bugs lists every deviation with one line each', () => {
  const r = run(['bugs']);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^fault-no-recheck\s+do_anonymous_page: /m);
});

test('parseDuration accepts 90s, 30m, 2h and plain seconds', () => {
  assert.equal(parseDuration('90s'), 90);
  assert.equal(parseDuration('30m'), 1800);
  assert.equal(parseDuration('2h'), 7200);
  assert.equal(parseDuration('45'), 45);
  assert.throws(() => parseDuration('soon'), /--duration/);
});

test('the built CLI runs as the package bin (what npx foliostorm executes): executable, with a node shebang', () => {
  // tsc writes files without the x bit; build.mjs sets it after every (re)build
  const r = spawnSync(CLI, ['--version'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.error, undefined, `could not execute ${CLI}: ${r.error?.message}`);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^\d+\.\d+\.\d+/);
});

test('an error ends the CLI with 2 (bad input, its message) or 3 (internal: one line, the stack only when verbose), never 1', () => {
  assert.deepEqual(failureOf(new UsageError('--seeds: not a number'), false), { code: 2, text: 'foliostorm: --seeds: not a number\n' });
  const boom = new TypeError('x is undefined\nsecond line');
  const quiet = failureOf(boom, false);
  assert.equal(quiet.code, 3);
  assert.equal(quiet.text, 'foliostorm: internal error: x is undefined (the stack: --verbose or FOLIOSTORM_DEBUG=1)\n');
  const loud = failureOf(boom, true);
  assert.equal(loud.code, 3);
  assert.ok(loud.text.includes(boom.stack!), 'the stack with --verbose');
  assert.equal(failureOf('a string thrown', false).code, 3);
});
