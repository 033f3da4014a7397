// Stopping a long run with a signal: SIGTERM (a CI timeout, kubectl delete) or SIGINT (Ctrl-C) makes
// `run` stop, keep every failure artifact found so far and write a complete summary marked
// interrupted, then exit 3. Each test waits for what the run prints before signalling, not for time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, runUntil } from './helpers/signal-cli.js';

const summaryOf = (out: string) => JSON.parse(readFileSync(join(out, readdirSync(out)[0], 'summary.json'), 'utf8'));

test('SIGTERM during a sched run: exit 3, the artifacts found so far kept, a complete summary marked interrupted', { timeout: 180_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'foliostorm-sigterm-'));
  // fault-order1's provoking mix (src/inject/deviations.ts): most seeds detect it, each in a few ms
  const cfg = join(out, '..', `${out.split('/').pop()}.json`);
  writeFileSync(cfg, JSON.stringify({ inject: ['fault-order1'], opsPerCpu: 100, seeds: 1000000, workers: 2 }));
  const r = await runUntil(['run', '--config', cfg, '--duration', '10m', '--out', out], /new failure .* at seed \d+: npx foliostorm repro (\S+)/, 'SIGTERM');
  assert.ok(r.signalled, `the run ended before a failure was found:\n${r.stderr}`);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /stopping: finishing the summary/);
  const told = /new failure .* at seed \d+: npx foliostorm repro (\S+)/.exec(r.stderr)![1];
  const s = summaryOf(out);
  assert.equal(s.interrupted, true);
  assert.equal(s.stop.reason, 'interrupted');
  assert.ok(s.seeds.count >= 1 && s.perSeed.length === s.seeds.count);
  // complete: every part of the summary is there, and every violation found is in it
  for (const k of ['config', 'ops', 'events', 'anonFault', 'latency', 'signatures', 'traceHash']) assert.ok(k in s, `summary lacks ${k}`);
  assert.ok(s.violations.length >= 1);
  assert.ok(s.violations.some((v: { artifact?: string }) => v.artifact === told), `the artifact announced (${told}) is in the summary`);
  for (const v of s.violations) if (v.artifact) assert.ok(existsSync(v.artifact), v.artifact);
  assert.ok(readdirSync(join(out, readdirSync(out)[0])).some((f) => f.endsWith('.hgrm')));
});

test('SIGINT during a threads run: exit 3 and a complete summary of the rounds run, marked interrupted', { timeout: 180_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'foliostorm-sigint-'));
  const r = await runUntil(['run', '--engine', 'threads', '--duration', '10m', '--progress-every', '0.2s', '--out', out], /seeds [1-9]/, 'SIGINT');
  assert.ok(r.signalled, `the run ended before a round was done:\n${r.stderr}`);
  assert.equal(r.code, 3, r.stderr);
  const s = summaryOf(out);
  assert.equal(s.engine, 'threads');
  assert.equal(s.interrupted, true);
  assert.equal(s.stop.reason, 'interrupted');
  assert.ok(s.seeds.count >= 1);
  assert.equal(s.violations.length, 0, JSON.stringify(s.violations[0]));
  assert.ok(s.ops.touch > 0);
});

test('SIGKILL (nothing can be caught): the checkpoint summary.json stays, marked interrupted and unfinished, and report and merge read it', { timeout: 180_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'foliostorm-sigkill-'));
  // a checkpoint after every seed; kill once the progress line shows a few seeds done
  const r = await runUntil(['run', '--duration', '10m', '--checkpoint-every', '0', '--progress-every', '0.2s', '--out', out], /seeds [3-9]/, 'SIGKILL');
  assert.ok(r.signalled, r.stderr);
  assert.equal(r.code, null, 'killed, no exit code');
  const dir = join(out, readdirSync(out)[0]);
  assert.ok(!existsSync(join(dir, 'summary.json')), '--checkpoint-every 0: no checkpoint, nothing written before the end');

  const out2 = mkdtempSync(join(tmpdir(), 'foliostorm-sigkill-'));
  const k = await runUntil(['run', '--duration', '10m', '--checkpoint-every', '0.01s', '--progress-every', '0.2s', '--out', out2], /seeds [3-9]/, 'SIGKILL');
  assert.ok(k.signalled, k.stderr);
  const dir2 = join(out2, readdirSync(out2)[0]);
  const s = JSON.parse(readFileSync(join(dir2, 'summary.json'), 'utf8'));
  assert.equal(s.interrupted, true);
  assert.equal(s.stop.reason, 'unfinished');
  assert.match(s.stop.detail, /the run had not ended when this was written/);
  assert.ok(s.seeds.count >= 1 && s.perSeed.length === s.seeds.count, `${s.seeds.count} seeds`);
  assert.ok(existsSync(join(dir2, 'histograms.json')) && existsSync(join(dir2, 'junit.xml')));
  // every file is whole: the kill can land in a write, which leaves only that write's hidden
  // temporary file (.NAME.tmp-PID, never read), not a half-written NAME
  for (const f of readdirSync(dir2)) {
    if (f.startsWith('.')) {
      assert.match(f, /^\..+\.tmp-\d+$/, `unexpected hidden file ${f}`);
      continue;
    }
    if (statSync(join(dir2, f)).isDirectory()) continue;
    const text = readFileSync(join(dir2, f), 'utf8');
    if (f.endsWith('.json')) assert.doesNotThrow(() => JSON.parse(text), `${f} is not whole`);
    if (f.endsWith('.xml')) assert.match(text, /<\/testsuites>\s*$/, `${f} is not whole`);
    if (f.endsWith('.hgrm')) assert.match(text, /#\[Buckets.*\]\s*$/, `${f} is not whole`);
  }
  // what a person does next: a report, and a merge (one folder) that says it is interrupted
  const rep = spawnSync(process.execPath, [CLI, 'report', dir2], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(rep.status, 0, rep.stderr);
  assert.ok(existsSync(join(dir2, 'report.html')));
  const m = spawnSync(process.execPath, [CLI, 'merge', dir2, '--out', join(out2, 'merged')], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(m.status, 3, m.stderr + m.stdout);
});
