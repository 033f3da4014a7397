// Output paths on the command line (issue #18): every command that writes checks where, before any
// work, and a bad path is exit 2 with one line naming it and why: a file given for a folder, a path
// under /proc (where `run --out /proc/x` used to spin forever in Node's recursive mkdir, deaf to
// SIGTERM) or /dev/null, a read-only folder (a read-only tmpfs: chmod does not stop root).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from './helpers/signal-cli.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'foliostorm-outpath-'));
const cli = (args: string[]) => {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL' }); // the old /proc spin ignored SIGTERM
  return { ...r, ms: performance.now() - t0 };
};

/** exit 2, and stderr is one line that names path and matches why, without a stack. */
function badPath(args: string[], path: string, why: RegExp): number {
  const r = cli(args);
  assert.equal(r.signal, null, `${args.join(' ')}: still running after 30 s`);
  assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.ok(lines[0].startsWith('foliostorm: ') && lines[0].includes(path), r.stderr);
  assert.match(lines[0], why);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
  return r.ms;
}

// a results folder with a failure artifact, for the commands that read one before writing
let fixture: { dir: string; artifact: string } | undefined;
function results(): { dir: string; artifact: string } {
  if (fixture) return fixture;
  const root = tmp();
  const cfg = join(root, 'cfg.json');
  writeFileSync(cfg, JSON.stringify({ inject: ['fault-order1'], opsPerCpu: 100, workers: 1 }));
  const r = cli(['run', '--config', cfg, '--seeds', '3', '--out', join(root, 'r')]);
  assert.equal(r.status, 1, r.stderr);
  const dir = join(root, 'r', readdirSync(join(root, 'r'))[0]);
  const sig = readdirSync(join(dir, 'failures'))[0];
  return (fixture = { dir, artifact: join(dir, 'failures', sig, readdirSync(join(dir, 'failures', sig))[0]) });
}

const aFile = (): string => {
  const file = join(tmp(), 'a-file');
  writeFileSync(file, 'x');
  return file;
};

test('run --out at a file, under /proc, under /dev/null: exit 2 naming the path, at once', { timeout: 60_000 }, (t) => {
  const file = aFile();
  badPath(['run', '--seeds', '1', '--out', file], file, /is a file, not a folder$/);
  const procMs = badPath(['run', '--seeds', '1', '--out', '/proc/x'], '/proc/x', /cannot create the folder \/proc\/x: ENOENT.*takes no new folders/);
  badPath(['run', '--seeds', '1', '--out', '/dev/null/x'], '/dev/null/x', /\/dev\/null is not a folder$/);
  // on an idle machine 0.6-0.9 s, node's start included; here under the test suite's load
  t.diagnostic(`--out /proc/x: exit 2 after ${Math.round(procMs)} ms`);
  assert.ok(procMs < 10_000, `${procMs} ms`);
});

test('hunt and experiment --out at a file or under /proc: exit 2 naming the path, before any cell', { timeout: 60_000 }, () => {
  const file = aFile();
  badPath(['hunt', '--budget', '1', '--out', '/proc/x'], '/proc/x', /ENOENT/);
  badPath(['experiment', 'fallback', '--quick', '--out', file], file, /is a file, not a folder$/);
  badPath(['experiment', 'batching', '--quick', '--out', '/proc/x'], '/proc/x', /ENOENT/);
});

test('merge --out and shrink --out at a file, a folder or under /proc: exit 2 naming the path', { timeout: 60_000 }, () => {
  const file = aFile();
  const { dir, artifact } = results();
  badPath(['merge', dir, '--out', file], file, /a file, not a folder$/);
  badPath(['merge', dir, '--out', '/proc/x'], '/proc/x', /cannot write in \/proc/);
  badPath(['shrink', artifact, '--out', '/proc/x/shrunk.json'], '/proc/x/shrunk.json', /ENOENT/);
  badPath(['shrink', artifact, '--out', dir], dir, /a folder, not a file$/);
});

test('a read-only folder (a read-only tmpfs; root only): run, experiment and report exit 2 naming it (EROFS)', { timeout: 120_000 }, (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root to mount a read-only tmpfs (chmod does not stop root, and a non-root user cannot mount)');
  const { dir } = results();
  const mnt = tmp();
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt], { encoding: 'utf8' });
  if (m.status !== 0) return t.skip(`cannot mount a tmpfs here: ${m.stderr.trim()}`);
  try {
    cpSync(dir, join(mnt, 'run1'), { recursive: true });
    mkdirSync(join(mnt, 'results'));
    const ro = spawnSync('mount', ['-o', 'remount,ro', mnt], { encoding: 'utf8' });
    assert.equal(ro.status, 0, ro.stderr);
    badPath(['run', '--seeds', '1', '--out', join(mnt, 'results')], join(mnt, 'results'), /EROFS: read-only file system$/);
    badPath(['run', '--seeds', '1', '--out', join(mnt, 'new', 'results')], join(mnt, 'new'), /cannot create the folder .*\/new: EROFS/);
    badPath(['experiment', 'fallback', '--quick', '--out', join(mnt, 'results')], join(mnt, 'results'), /EROFS/);
    badPath(['report', join(mnt, 'run1')], join(mnt, 'run1'), /^foliostorm: report .*run1: cannot write in .*run1: EROFS/);
    assert.ok(!existsSync(join(mnt, 'run1', 'report.html.tmp')));
  } finally {
    spawnSync('umount', [mnt]);
    rmSync(mnt, { recursive: true, force: true });
  }
});
