// A run on a full disk (issue #18), for real: a 200 KB tmpfs (root only; left out otherwise, with
// the reason). The run fills it with failure artifacts; the write that finds no space stops it:
// exit 3, one line naming the file and ENOSPC (no stack), the summary on stdout (counts, the
// violation and its replay command), and the files written before it kept whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from './helpers/signal-cli.js';

test('run on a full 200 KB tmpfs: exit 3, one line naming the file and ENOSPC, the summary on stdout, the artifacts written kept', { timeout: 120_000 }, (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root to mount a tmpfs');
  const mnt = mkdtempSync(join(tmpdir(), 'foliostorm-full-'));
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=200k', 'tmpfs', mnt], { encoding: 'utf8' });
  if (m.status !== 0) return t.skip(`cannot mount a tmpfs here: ${m.stderr.trim()}`);
  try {
    // room for one artifact of fault-order1 (about 50 KB) and a little more: the run stops mid-way
    writeFileSync(join(mnt, 'filler'), Buffer.alloc(110_000));
    const cfg = join(tmpdir(), `foliostorm-full-${process.pid}.json`);
    writeFileSync(cfg, JSON.stringify({ inject: ['fault-order1'], opsPerCpu: 100, workers: 2 }));
    const out = join(mnt, 'results');
    const r = spawnSync(process.execPath, [CLI, 'run', '--config', cfg, '--seeds', '300', '--out', out], { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' });
    assert.equal(r.status, 3, r.stderr);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('foliostorm:'));
    assert.equal(errors.length, 1, r.stderr);
    assert.match(errors[0], new RegExp(`^foliostorm: cannot write ${out}/\\S+: ENOSPC: no space left on device$`));
    assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
    // the summary, on stdout
    assert.match(r.stdout, /^foliostorm sched run .*\(INTERRUPTED\): FAIL: \d+ violation/);
    // the first seed counted: 1, or 2 when the disk filled while seed 1's artifact was written (two workers: either can be first)
    assert.match(r.stdout, /seeds {5}\d+ \(from [12]\)/);
    assert.match(r.stdout, /VIOLATION anon-order1@quiescent\[fault-order1\]/);
    assert.match(r.stdout, /results {3}\S+/);
    const dir = join(out, readdirSync(out)[0]);
    // every file written is whole, no temporary file stays; the artifacts come first
    const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => statSync(join(dir, f)).isFile());
    assert.ok(files.some((f) => f.startsWith('failures/')), files.join(' '));
    for (const f of files) {
      assert.doesNotMatch(f, /\.tmp-\d+$/);
      if (f.endsWith('.json')) assert.doesNotThrow(() => JSON.parse(readFileSync(join(dir, f), 'utf8')), f);
    }
    const replay = /replay: npx foliostorm repro (\S+)/.exec(r.stdout);
    if (replay) assert.ok(files.some((f) => replay[1].endsWith(f)), `the replay command's artifact ${replay[1]} is on disk`);
    rmSync(cfg, { force: true });
  } finally {
    spawnSync('umount', [mnt]);
    rmSync(mnt, { recursive: true, force: true });
  }
});
