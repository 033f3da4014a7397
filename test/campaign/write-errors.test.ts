// A run whose results cannot be written mid-way (issue #18): a full disk (ENOSPC), an I/O error
// (EIO), lost permission (EACCES), a folder remounted read-only (EROFS). The run stops starting
// seeds, keeps what it wrote, still tries summary.json (the run's record), returns the summary text
// and the failed write (the CLI prints one line and exits 3); nothing crashes, no temporary file
// stays. The failures are injected (test/helpers/faulty-fs.ts); the seeds are model-free
// (test/helpers/quick-sched-task.ts: every 4th seed fails), so each run takes a tenth of a second.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig } from '../../src/config/config.js';
import { EXIT_INTERRUPTED, runCampaign } from '../../src/campaign/coordinator.js';
import { WriteError } from '../../src/report/disk.js';
import { faultyFs, type FsCall } from '../helpers/faulty-fs.js';

const schedTask = new URL('../helpers/quick-sched-task.js', import.meta.url);
const cfg = defaultConfig({ opsPerCpu: 20, seeds: 200, workers: 2 });
const tmp = () => mkdtempSync(join(tmpdir(), 'foliostorm-wfail-'));
const filesIn = (dir: string): string[] => readdirSync(dir, { recursive: true, encoding: 'utf8' });

async function failingRun(call: FsCall, code: string, part: string, extra: { checkpointEveryMs?: number; seeds?: number } = {}) {
  const out = tmp();
  const fs = faultyFs(call, code, { when: (p) => p.includes(part) });
  const r = await runCampaign({ ...cfg, seeds: extra.seeds ?? cfg.seeds }, { out, seedsGiven: true, quiet: true, version: 't', schedTask, fs, checkpointEveryMs: extra.checkpointEveryMs ?? 0 });
  assert.ok(fs.failed >= 1, `the ${call} of ${part} failed`);
  assert.equal(r.exitCode, EXIT_INTERRUPTED);
  assert.ok(r.writeError instanceof WriteError);
  assert.equal(r.writeError.code, code);
  assert.ok(r.writeError.file.includes(part), r.writeError.file);
  assert.ok(r.writeError.message.startsWith(`cannot write ${r.writeError.file}: ${code}: `), r.writeError.message);
  assert.ok(!filesIn(r.dir).some((f) => /\.tmp-\d+$/.test(f)), 'no temporary file left');
  return r;
}

test('ENOSPC on the first artifact: the run stops starting seeds, summary.json says why, the text tells it too', async () => {
  const r = await failingRun('openSync', 'ENOSPC', '/failures/');
  const s = JSON.parse(readFileSync(join(r.dir, 'summary.json'), 'utf8'));
  assert.equal(s.stop.reason, 'write-error');
  assert.equal(s.stop.detail, `${r.writeError!.message}; the run stopped starting seeds`);
  assert.equal(s.interrupted, true);
  assert.ok(s.seeds.count < 200 && s.seeds.count >= 1, `${s.seeds.count} seeds`);
  assert.ok(s.violations.length >= 1 && s.violations.every((v: { artifact?: string }) => !v.artifact));
  assert.ok(existsSync(join(r.dir, 'histograms.json')) && existsSync(join(r.dir, 'junit.xml')) && existsSync(join(r.dir, 'report.html')), 'the rest written');
  assert.match(r.text, /\(INTERRUPTED\): FAIL/);
  assert.match(r.text, /stopped {3}early: cannot write .*\/failures\/.*: ENOSPC: no space left on device; the run stopped starting seeds/);
  assert.match(r.text, /no artifact: it could not be written \(seed 4 runs it again\)/);
});

test('EIO on summary.json at the end: exit 3 naming it; the artifacts written during the run stay, nothing after it is written', async () => {
  const r = await failingRun('writeSync', 'EIO', 'summary.json', { seeds: 12 });
  assert.equal(r.summary.seeds.count, 12, 'every seed ran: the failure came at the end');
  assert.ok(!existsSync(join(r.dir, 'summary.json')) && !existsSync(join(r.dir, 'histograms.json')));
  const kept = r.summary.violations.filter((v) => v.artifact);
  assert.equal(kept.length, 3, 'seeds 4, 8 and 12: three artifacts');
  for (const v of kept) assert.equal(JSON.parse(readFileSync(v.artifact!, 'utf8')).seed, v.seed);
  assert.match(r.text, /replay: npx foliostorm repro \S+seed-4\.json/);
});

test('EACCES on a checkpoint (junit.xml): the run stops there; at the end summary.json and the histograms are still written', async () => {
  const r = await failingRun('openSync', 'EACCES', 'junit.xml', { checkpointEveryMs: 1 });
  const s = JSON.parse(readFileSync(join(r.dir, 'summary.json'), 'utf8'));
  assert.equal(s.stop.reason, 'write-error');
  assert.ok(s.seeds.count < 200);
  assert.ok(existsSync(join(r.dir, 'histograms.json')));
  assert.ok(!existsSync(join(r.dir, 'junit.xml')));
});

test('EROFS making the failures folder (a remount read-only): stopped, named, exit 3', async () => {
  const r = await failingRun('mkdirSync', 'EROFS', '/failures');
  assert.equal(r.summary.stop?.reason, 'write-error');
  assert.ok(r.summary.seeds.count < 200);
});
