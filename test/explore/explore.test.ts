// explore: bounded exhaustive exploration of concurrent scenario blocks. A clean litmus test is
// verified; an injected deviation is found with its minimal preemption count and an artifact that
// repro replays; the sleep-set reduction reaches the same outcomes and violations as plain
// enumeration; the output is the same twice; bad input exits 2 with a message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exploreFile, type ExploreResult } from '../../src/explore/explore.js';
import { AccessTracker, independent } from '../../src/engine/footprint.js';

const LITMUS = fileURLToPath(new URL('../../../configs/litmus/', import.meta.url));
const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const cli = (args: string[]) => spawnSync(process.execPath, [CLI, 'explore', ...args], { encoding: 'utf8', timeout: 120_000 });
const lit = (name: string) => join(LITMUS, `${name}.json`);

/** What must not depend on the reduction: the outcomes reached and the violations with their minimal K. */
const semantics = (r: ExploreResult) => ({
  outcomes: r.outcomes.map((o) => o.outcome).sort(),
  violations: r.violations.map((v) => `${v.signature} K=${v.minK}`).sort(),
});

test('footprints: steps commute unless one writes what the other reads or writes; the tracker sees Atomics on the machine only', () => {
  const fp = (reads: number[], writes: number[]) => ({ reads: new Set([...reads, ...writes]), writes: new Set(writes) });
  assert.ok(independent(fp([1, 2], []), fp([1, 2], [])));
  assert.ok(independent(fp([1], [3]), fp([2], [4])));
  assert.ok(!independent(fp([1], []), fp([], [1])));
  assert.ok(!independent(fp([], [5]), fp([], [5])));
  const m = new Int32Array(new SharedArrayBuffer(4096)), other = new Int32Array(new SharedArrayBuffer(64));
  const t = new AccessTracker();
  t.attach({ m, L: { global: 0, cpu: 100, cpus: 1, ring: 200, ringSize: 8 } } as never);
  t.install();
  try {
    Atomics.load(m, 500);
    t.recording(true);
    Atomics.load(m, 10);
    Atomics.store(m, 11, 1);
    Atomics.compareExchange(m, 12, 0, 1);
    Atomics.add(other, 1, 1);
    Atomics.store(m, 0, 1); // G.SEQ: the flight recorder's, not recorded
    Atomics.store(m, 210, 1); // the ring
  } finally {
    t.uninstall();
  }
  const f = t.take();
  assert.deepEqual([...f.reads].sort((a, b) => a - b), [10, 11, 12]);
  assert.deepEqual([...f.writes].sort((a, b) => a - b), [11, 12]);
  Atomics.load(m, 13);
  assert.equal(t.take().reads.size, 0, 'uninstalled: nothing recorded');
});

test('a clean litmus test is verified within K = 2, with its outcomes counted', async () => {
  const r = await exploreFile(lit('fork-vs-store'), { preemptions: 2 });
  assert.equal(r.status, 'verified');
  assert.equal(r.exitCode, 0);
  assert.deepEqual(r.rounds.map((x) => x.k), [0, 1, 2]);
  assert.equal(r.rounds[0].explored, 2, 'K=0: each CPU runs its whole list first, in turn');
  assert.ok(r.outcomes.length >= 2, 'the store lands before the fork copies, or after');
  assert.equal(r.outcomes.reduce((a, o) => a + o.count, 0), r.explored);
});

test('an injected cross-CPU race is found with its minimal K; the artifact replays (repro) and shrink accepts it', async () => {
  const r = await exploreFile(lit('fault-fault-64k.refault'), { preemptions: 2, inject: ['fault-no-recheck'] });
  assert.equal(r.status, 'violation');
  assert.equal(r.exitCode, 1);
  assert.equal(r.violations[0].minK, 1, 'no schedule without a preemption breaks it: the two faults must interleave');
  assert.equal(r.stoppedBy, 'violation');
  const out = mkdtempSync(join(tmpdir(), 'explore-'));
  const res = cli([lit('fault-fault-64k.refault'), '--preemptions', '2', '--inject', 'fault-no-recheck', '--out', out]);
  assert.equal(res.status, 1, res.stderr);
  assert.match(res.stdout, /violation \(minimal K=1, \d+ schedules?\): .*rss-mismatch/);
  const art = join(out, readdirSync(out)[0]);
  const rep = spawnSync(process.execPath, [CLI, 'repro', art], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(rep.status, 0, rep.stdout + rep.stderr);
  assert.match(rep.stdout, /reproduced: rss-mismatch@explore\[fault-no-recheck\]/);
  const sh = spawnSync(process.execPath, [CLI, 'shrink', art, '--out', join(out, 'shrunk.json')], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(sh.status, 0, sh.stdout + sh.stderr);
});

test('the sleep-set reduction reaches the same outcomes and violations as plain enumeration (6 tests), with fewer runs', async () => {
  const cases: [string, string[], number][] = [
    ['fork-vs-store', [], 2], ['pin-vs-fork', [], 2], ['zap-vs-hw-dirty', [], 2], ['fault-vs-dontneed', [], 2], ['writeback-vs-store', [], 2],
    ['fault-fault-64k.retry-lower', ['fault-no-recheck'], 1],
  ];
  let reducedRuns = 0, plainRuns = 0;
  for (const [name, inject, k] of cases) {
    const reduced = await exploreFile(lit(name), { preemptions: k, inject, allRounds: true });
    const plain = await exploreFile(lit(name), { preemptions: k, inject, allRounds: true, reduce: false });
    assert.deepEqual(semantics(reduced), semantics(plain), name);
    assert.equal(plain.pruned, 0);
    reducedRuns += reduced.runs;
    plainRuns += plain.runs;
  }
  assert.ok(reducedRuns < plainRuns, `reduced ${reducedRuns} runs, plain ${plainRuns}`);
});

test('the same exploration twice prints the same report (but the seconds)', () => {
  const a = cli([lit('zap-vs-hw-dirty'), '--preemptions', '2']), b = cli([lit('zap-vs-hw-dirty'), '--preemptions', '2']);
  assert.equal(a.status, 0, a.stderr);
  const strip = (s: string) => s.replace(/, [\d.]+ s\)/g, ')');
  assert.equal(strip(a.stdout), strip(b.stdout));
  assert.match(a.stdout, /verified: no violation in any schedule with <= 2 preemptions/);
});

test('bad input: exit 2 with a message naming it, never a stack', () => {
  const dir = mkdtempSync(join(tmpdir(), 'explore-bad-'));
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ steps: [{ op: 'concurrent', cpus: [[]] }] }));
  const cases: [string[], RegExp][] = [
    [[lit('fork-vs-store'), '--inject', 'no-such-bug'], /--inject: unknown deviation "no-such-bug"/],
    [[lit('fork-vs-store'), '--preemptions', '-1'], /--preemptions: must be an integer >= 0/],
    [[lit('fork-vs-store'), '--max-schedules', '0'], /--max-schedules: must be an integer >= 1/],
    [[lit('fork-vs-store'), '--budget', 'soon'], /--budget: /],
    [[bad], /bad\.json: step 0 \(op "concurrent"\): field "cpus/],
    [[join(dir, 'missing.json')], /missing\.json: cannot read/],
  ];
  for (const [args, msg] of cases) {
    const r = cli(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stdout + r.stderr, msg);
    assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('--max-schedules stops a file early: not verified (exit 3), what was explored is reported', () => {
  const r = cli([lit('fault-fault-64k.refault'), '--preemptions', '2', '--max-schedules', '5']);
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stdout, /incomplete: stopped by max-schedules during K=1; no violation in any schedule with <= 0 preemptions/);
});

test('the migration and MADV_FREE steps: an injected migration race is found with its minimal K, and the clean model verifies', async () => {
  const bad = await exploreFile(lit('fork-vs-migrate'), { preemptions: 2, inject: ['fork-migration-writable'] });
  assert.equal(bad.status, 'violation');
  assert.equal(bad.violations[0].minK, 1, 'fork must copy the entries while the migration has them: one preemption inside move_pages');
  assert.match(bad.violations[0].signature, /exclusive-page-shared|writable-not-exclusive|data-mismatch/);
  const free = await exploreFile(lit('free-vs-store'), { preemptions: 2, inject: ['free-tlb-one-entry'] });
  assert.equal(free.status, 'violation');
  assert.equal(free.violations[0].minK, 0, 'the TLB contract at madvise_free sees the other CPU\'s entry left unflushed');
  assert.match(free.violations[0].signature, /tlb-stale/);
  const clean = await exploreFile(lit('fork-vs-migrate'), { preemptions: 2 });
  assert.equal(clean.status, 'verified');
});
