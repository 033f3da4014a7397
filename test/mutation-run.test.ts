// The per-mutant command of the mutation score (scripts/mutation-run.mjs, docs/mutation.md "How it
// works" item 5), against a stand-in for the CLI in a temporary folder (dist/src/cli.js there
// logs its arguments, writes a summary and exits as told per engine): the sched engine runs for
// --duration less --threads-duration, then the threads engine for the rest, the second only when
// the first ran clean; the results line names the engine that decided and keeps both runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../scripts/mutation-run.mjs', import.meta.url));

/** The CLI's stand-in: `run ... --engine E --duration D --out O`: logs {engine, duration}, writes O/run/summary.json, exits with FAKE_EXIT_<E>. */
const FAKE_CLI = `
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
const a = process.argv.slice(2);
const opt = (n) => a[a.indexOf(n) + 1];
const engine = opt('--engine');
const exit = Number(process.env['FAKE_EXIT_' + engine] ?? 0);
appendFileSync('calls.jsonl', JSON.stringify({ engine, duration: opt('--duration'), config: opt('-c'), maxFailures: opt('--max-failures') }) + '\\n');
mkdirSync(opt('--out') + '/run', { recursive: true });
writeFileSync(opt('--out') + '/run/summary.json', JSON.stringify({ seeds: { count: engine === 'sched' ? 30 : 2 }, signatures: exit === 1 ? [{ signature: 'bad@' + engine }] : [], stop: { reason: 'duration' } }));
process.exit(exit);
`;

function runMutant(env: Record<string, string>, args: string[] = []) {
  const dir = mkdtempSync(join(tmpdir(), 'foliostorm-mutation-run-'));
  try {
    mkdirSync(join(dir, 'dist', 'src'), { recursive: true });
    writeFileSync(join(dir, 'dist', 'src', 'cli.js'), FAKE_CLI);
    writeFileSync(join(dir, 'plan.json'), JSON.stringify({ commit: 'c0ffee', byId: { '7': { key: 'k7' } } }));
    const r = spawnSync(process.execPath, [SCRIPT, '--plan', 'plan.json', '--results', 'results.jsonl', ...args], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, __STRYKER_ACTIVE_MUTANT__: '7', ...env },
    });
    const lines = (f: string) => readFileSync(join(dir, f), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, calls: lines('calls.jsonl'), results: lines('results.jsonl') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('mutation-run: both engines clean: 15 s sched then 5 s threads of 20 s, survived, killedBy null, both runs kept', () => {
  const r = runMutant({});
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.calls, [
    { engine: 'sched', duration: '15', config: 'configs/nightly.json', maxFailures: '1' },
    { engine: 'threads', duration: '5', config: 'configs/nightly.json', maxFailures: '1' },
  ]);
  assert.equal(r.results.length, 1);
  const x = r.results[0];
  assert.equal(x.status, 'survived');
  assert.equal(x.killedBy, null);
  assert.equal(x.seeds, 32);
  assert.deepEqual((x.runs as { engine: string; exit: number }[]).map((e) => [e.engine, e.exit]), [['sched', 0], ['threads', 0]]);
});

test('mutation-run: the sched engine finds it: the threads engine does not run; the threads engine finds what sched did not: killed by threads', () => {
  const s = runMutant({ FAKE_EXIT_sched: '1' });
  assert.equal(s.status, 1);
  assert.deepEqual(s.calls.map((c) => c.engine), ['sched']);
  assert.equal(s.results[0].status, 'killed');
  assert.equal(s.results[0].killedBy, 'sched');
  assert.deepEqual(s.results[0].signatures, ['bad@sched']);

  const t = runMutant({ FAKE_EXIT_threads: '1' });
  assert.equal(t.status, 1);
  assert.deepEqual(t.calls.map((c) => c.engine), ['sched', 'threads']);
  assert.equal(t.results[0].status, 'killed');
  assert.equal(t.results[0].killedBy, 'threads');
  assert.deepEqual(t.results[0].signatures, ['bad@threads']);
  assert.match(t.stdout, /killed by threads/);

  const c = runMutant({ FAKE_EXIT_threads: '3' });
  assert.equal(c.status, 3);
  assert.equal(c.results[0].status, 'crashed');
  assert.equal(c.results[0].killedBy, 'threads');
});

test('mutation-run: --threads-duration sets the split; 0 runs the sched engine alone; longer than --duration is refused', () => {
  const r = runMutant({}, ['--duration', '1m', '--threads-duration', '10s']);
  assert.deepEqual(r.calls.map((c) => [c.engine, c.duration]), [['sched', '50'], ['threads', '10']]);
  const q = runMutant({}, ['--duration', '1m']);
  assert.deepEqual(q.calls.map((c) => [c.engine, c.duration]), [['sched', '45'], ['threads', '15']], 'default: a quarter for threads');
  const z = runMutant({ FAKE_EXIT_threads: '1' }, ['--threads-duration', '0']);
  assert.equal(z.status, 0);
  assert.deepEqual(z.calls.map((c) => [c.engine, c.duration]), [['sched', '20']]);
  const bad = spawnSync(process.execPath, [SCRIPT, '--plan', 'p', '--results', 'r', '--duration', '10s', '--threads-duration', '20s'], { encoding: 'utf8', env: { ...process.env, __STRYKER_ACTIVE_MUTANT__: '7' } });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--threads-duration 20s is longer than --duration/);
});
