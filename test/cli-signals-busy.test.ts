// Ctrl-C and SIGTERM stop every long command within 2 s (issue #18), with exit 3: the commands
// whose work is one long synchronous run (a shrink search, a replay, a scenario file) run it on a
// worker thread, and the one that runs on the main thread (experiment batching) gives the event
// loop a turn between chunks of its work, so the signal handler runs at once. Before, shrink and
// scenario ended by the signal (143) or ran on, and a 1 GiB populate kept batching deaf for 7 s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI } from './helpers/signal-cli.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'foliostorm-busy-'));

/**
 * Spawn the CLI; delayMs after `when` matches stderr (or stdout), or afterMs after the start, send
 * SIGTERM; resolve with the exit and how long it took to end after the signal.
 */
function termWhen(args: string[], when: RegExp, on: 'stderr' | 'stdout' = 'stderr', afterMs?: number, delayMs = 0): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; stopMs: number; signalled: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '', at = 0;
    let seen = false;
    const check = () => {
      if (seen || !when.test(on === 'stderr' ? stderr : stdout)) return;
      seen = true;
      setTimeout(() => {
        if (at || child.exitCode !== null) return;
        at = performance.now();
        child.kill('SIGTERM');
      }, delayMs);
    };
    child.stdout.setEncoding('utf8').on('data', (d: string) => ((stdout += d), check()));
    child.stderr.setEncoding('utf8').on('data', (d: string) => ((stderr += d), check()));
    if (afterMs !== undefined) setTimeout(() => {
      if (!at && child.exitCode === null) {
        at = performance.now();
        child.kill('SIGTERM');
      }
    }, afterMs);
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, stopMs: at ? performance.now() - at : -1, signalled: at > 0 }));
  });
}

test('shrink: SIGTERM during the search: exit 3 within 2 s, nothing written', { timeout: 120_000 }, async (t) => {
  const out = tmp();
  const r0 = spawnSync(process.execPath, [CLI, 'run', '--inject', 'fault-no-recheck', '--seeds', '60', '--max-failures', '1', '--out', out], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r0.status, 1, r0.stderr);
  const dir = join(out, readdirSync(out)[0], 'failures');
  const sig = readdirSync(dir)[0];
  const art = join(dir, sig, readdirSync(join(dir, sig))[0]);
  const dest = join(out, 'shrunk.json');
  const r = await termWhen(['shrink', art, '--out', dest], /\[shrink\] start:/);
  assert.ok(r.signalled, r.stderr);
  assert.equal(r.signal, null, 'ended by its handler, not by the signal');
  assert.equal(r.code, 3, r.stderr);
  t.diagnostic(`stopped ${Math.round(r.stopMs)} ms after SIGTERM`);
  assert.ok(r.stopMs < 2000, `stopped ${Math.round(r.stopMs)} ms after SIGTERM`);
  assert.match(r.stderr, /stopping: the shrink \(nothing is written\)/);
  assert.ok(!existsSync(dest));
});

test('scenario: SIGTERM after the first file: exit 3 within 2 s, the files that ran printed', { timeout: 120_000 }, async (t) => {
  const dirOf = fileURLToPath(new URL('../../configs/scenarios/', import.meta.url));
  const files = readdirSync(dirOf).filter((f) => f.endsWith('.json')).map((f) => join(dirOf, f));
  const r = await termWhen(['scenario', ...files], /^PASS /m, 'stdout');
  assert.ok(r.signalled, r.stdout + r.stderr);
  assert.equal(r.code, 3, r.stderr);
  t.diagnostic(`stopped ${Math.round(r.stopMs)} ms after SIGTERM`);
  assert.ok(r.stopMs < 2000, `stopped ${Math.round(r.stopMs)} ms after SIGTERM`);
  const lines = r.stdout.trim().split('\n');
  assert.ok(lines.length >= 1 && lines.length < files.length, `${lines.length} of ${files.length} files`);
  for (const [i, l] of lines.entries()) assert.ok(l.startsWith(`PASS ${files[i]}: `), l);
});

test('experiment batching: SIGTERM while a 1 GiB region is being populated: exit 3 within 2 s, the results written marked interrupted', { timeout: 120_000 }, async (t) => {
  const out = tmp();
  // the first populate (1 GiB of order-0 folios: 2.8 s for each of the two designs) is announced as
  // it starts; signalled 300 ms later, the run is in the middle of it
  const r = await termWhen(['experiment', 'batching', '--size', '1G', '--orders', '0', '--out', out], /\[batching\] populate generic 4K: 1 GiB/, 'stderr', undefined, 300);
  assert.ok(r.signalled, r.stderr);
  assert.equal(r.code, 3, r.stderr);
  t.diagnostic(`stopped ${Math.round(r.stopMs)} ms after SIGTERM`);
  assert.ok(r.stopMs < 2000, `stopped ${Math.round(r.stopMs)} ms after SIGTERM`);
  const dir = join(out, readdirSync(out)[0]);
  const j = JSON.parse(readFileSync(join(dir, 'batching.json'), 'utf8'));
  assert.equal(j.interrupted, true);
  assert.equal(j.cells.length, 0, 'stopped in the populate, before the first cell');
});
