// Output paths and failed writes (issue #18): a bad folder is a usage error found before any work,
// named with the reason, and never a loop (Node's recursive mkdir spins forever under /proc); a
// write that fails later (ENOSPC, EIO, EACCES, EROFS) is a WriteError naming the file and the errno,
// leaving the old file, or none, and no temporary file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkNewOutputDir, checkOutputFile, makeDirs, OutputPathError, prepareOutputDir, WriteError } from '../../src/report/disk.js';
import { ResultsWriter, writeAtomic } from '../../src/report/results.js';
import { HistSet } from '../../src/machine/histograms.js';
import { defaultConfig } from '../../src/config/config.js';
import type { ViolationRecord } from '../../src/engine/result.js';
import { type FsCall, faultyFs } from '../helpers/faulty-fs.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'foliostorm-disk-'));
const usage = (re: RegExp) => (e: unknown) => e instanceof OutputPathError && re.test(e.message) && !e.message.includes('\n');

test('makeDirs creates every missing folder once and accepts existing ones; a bad component ends it at once', () => {
  const root = tmp();
  assert.deepEqual(makeDirs(join(root, 'a', 'b', 'c')), [join(root, 'a'), join(root, 'a', 'b'), join(root, 'a', 'b', 'c')]);
  assert.deepEqual(makeDirs(join(root, 'a', 'b')), []);
  writeFileSync(join(root, 'f'), 'x');
  assert.throws(() => prepareOutputDir(join(root, 'f', 'x'), '--out'), usage(/^--out .*\/f\/x: .*\/f is a file, not a folder$/));
  assert.throws(() => prepareOutputDir(join(root, 'f'), '--out'), usage(/\/f is a file, not a folder$/));
  symlinkSync(join(root, 'nowhere'), join(root, 'dangling'));
  assert.throws(() => prepareOutputDir(join(root, 'dangling', 'x'), '--out'), usage(/dangling exists but cannot be read: ENOENT.*dangling symbolic link/));
});

test('under /proc (mkdir says ENOENT for a child of a folder that exists): an error at once, where Node\'s recursive mkdir loops forever', { skip: !existsSync('/proc/self') && 'no /proc here' }, () => {
  const t0 = performance.now();
  assert.throws(() => prepareOutputDir('/proc/foliostorm-x/y', '--out'), usage(/^--out \/proc\/foliostorm-x\/y: cannot create the folder \/proc\/foliostorm-x: ENOENT: no such file or directory \(\/proc exists but takes no new folders\)$/));
  assert.throws(() => prepareOutputDir('/dev/null/x', '--out'), usage(/\/dev\/null is not a folder$/));
  assert.ok(performance.now() - t0 < 1000);
});

test('a folder that takes no new files (read-only, no permission, full) is a usage error naming it and the errno; nothing is left behind', () => {
  for (const code of ['EROFS', 'EACCES', 'ENOSPC']) {
    const dir = join(tmp(), 'out');
    assert.throws(() => prepareOutputDir(dir, '--out', faultyFs('openSync', code)), usage(new RegExp(`^--out .*/out: cannot write in .*/out: ${code}: `)));
    assert.deepEqual(readdirSync(dir), []);
    const mk = faultyFs('mkdirSync', code, { when: (p) => p.endsWith('/new') });
    assert.throws(() => prepareOutputDir(join(tmp(), 'new'), '--out', mk), usage(new RegExp(`cannot create the folder .*/new: ${code}: `)));
  }
  const ws = faultyFs('writeSync', 'ENOSPC');
  assert.throws(() => prepareOutputDir(tmp(), 'report', ws), usage(/^report .*: cannot write in .*: ENOSPC: no space left on device$/));
});

test('checkOutputFile and checkNewOutputDir: the parent made and writable, the path itself of the right kind, nothing created there', () => {
  const root = tmp();
  checkOutputFile(join(root, 'sub', 'x.shrunk.json'), '--out');
  assert.ok(existsSync(join(root, 'sub')) && !existsSync(join(root, 'sub', 'x.shrunk.json')));
  mkdirSync(join(root, 'adir'));
  assert.throws(() => checkOutputFile(join(root, 'adir'), '--out'), usage(/adir: a folder, not a file$/));
  checkNewOutputDir(join(root, 'merged'), '--out');
  assert.ok(!existsSync(join(root, 'merged')), 'merge makes it only once the inputs are read');
  writeFileSync(join(root, 'afile'), 'x');
  assert.throws(() => checkNewOutputDir(join(root, 'afile'), '--out'), usage(/afile: a file, not a folder$/));
});

for (const [call, code] of [['openSync', 'EACCES'], ['writeSync', 'ENOSPC'], ['fsyncSync', 'EIO'], ['closeSync', 'EIO'], ['renameSync', 'EROFS']] as [FsCall, string][]) {
  test(`writeAtomic: ${code} from ${call.replace('Sync', '')} is a WriteError naming the file; the old file stays whole, no temporary file`, () => {
    const dir = tmp();
    const f = join(dir, 'summary.json');
    writeAtomic(f, 'old\n');
    const e = (() => {
      try {
        writeAtomic(f, 'new\n'.repeat(1000), faultyFs(call, code));
      } catch (x) {
        return x;
      }
      return null;
    })();
    assert.ok(e instanceof WriteError, String(e));
    assert.equal(e.file, f);
    assert.equal(e.code, code);
    assert.match(e.message, new RegExp(`^cannot write ${f}: ${code}: [a-z/ -]+$`));
    assert.equal(readFileSync(f, 'utf8'), 'old\n');
    assert.deepEqual(readdirSync(dir), ['summary.json']);
  });
}

test('ResultsWriter: every kind of file it writes fails as a WriteError naming that file (ENOSPC, EIO, EACCES, EROFS)', () => {
  const cfg = defaultConfig();
  const v: ViolationRecord = { invariant: 'a', path: 'b', signature: 'a@b', details: {}, cpu: 0, seed: 3, engine: 'sched', step: 1, events: [] };
  const h = new HistSet('steps');
  h.record('fault', 5);
  // [what, the call that fails, errno, the write, a part of the paths that fail, the file named]
  const cases: [string, FsCall, string, (w: ResultsWriter) => unknown, string, RegExp][] = [
    ['summary.json', 'writeSync', 'ENOSPC', (w) => w.json('summary.json', { a: 1 }), 'summary.json', /\/run\/summary\.json$/],
    ['an .hgrm', 'fsyncSync', 'EIO', (w) => w.histograms(h), 'fault.hgrm', /\/run\/fault\.hgrm$/],
    ['an artifact', 'openSync', 'EACCES', (w) => w.writeArtifact(cfg, { ...v }), 'seed-3', /\/run\/failures\/a_b\/seed-3\.json$/],
    ['the failures folder', 'mkdirSync', 'EROFS', (w) => w.artifact(cfg, { ...v }), '/failures', /\/run\/failures$/],
  ];
  for (const [what, call, code, write, part, file] of cases) {
    const root = tmp();
    const ffs = faultyFs(call, code, { when: (p) => p.includes(part) });
    const w = new ResultsWriter(root, 'run', { fs: ffs });
    assert.throws(() => write(w), (e) => e instanceof WriteError && e.code === code && file.test(e.file) && e.message.startsWith(`cannot write ${e.file}: ${code}: `), what);
    assert.ok(ffs.failed >= 1, what);
  }
});
