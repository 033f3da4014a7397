// Spawn the CLI and signal it once what it prints shows it got far enough: the Ctrl-C/SIGTERM
// tests wait for a line, not for time.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

/** Run the CLI; once its stderr matches `when`, send `signal`. Resolves with the exit code, stdout and stderr. */
export function runUntil(args: string[], when: RegExp, signal: NodeJS.Signals): Promise<{ code: number | null; stdout: string; stderr: string; signalled: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    let signalled = false;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      stderr += d;
      if (!signalled && when.test(stderr)) {
        signalled = true;
        child.kill(signal);
      }
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, signalled }));
  });
}

/**
 * `foliostorm experiment NAME ARGS --out (a new folder)`, SIGINT once stderr matches `when`; checks
 * what every interrupted experiment must do (it was signalled, exit 3, the stopping line, one
 * results folder holding exactly NAME.json, .md and .svg, the JSON marked interrupted) and returns
 * the run, the folder and the parsed JSON for the experiment's own checks.
 */
export async function interruptExperiment(name: string, args: string[], when: RegExp): Promise<{ r: Awaited<ReturnType<typeof runUntil>>; dir: string; j: any }> {
  const out = mkdtempSync(join(tmpdir(), 'foliostorm-expsig-'));
  const r = await runUntil(['experiment', name, ...args, '--out', out], when, 'SIGINT');
  assert.ok(r.signalled, `the run ended before a cell was done:\n${r.stderr}`);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /stopping: writing the cells that ran/);
  const dirs = readdirSync(out);
  assert.equal(dirs.length, 1);
  const dir = join(out, dirs[0]);
  assert.deepEqual(readdirSync(dir).sort(), [`${name}.json`, `${name}.md`, `${name}.svg`], 'every file whole (no temporary file left)');
  const j = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8'));
  assert.equal(j.interrupted, true);
  assert.equal(j.stop.reason, 'interrupted');
  return { r, dir, j };
}
