// conform end to end: the command's input errors (no VM needed), and, where qemu, the cached 6.12
// kernel and the executor are installed (npm run conformance:setup), real boots: agreement, a
// difference made on the model side, a file that is not a kernel, an /init that cannot run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { conform } from '../../src/conform/run.js';
import { cachedExt4Image, cachedKernel, executorPath } from '../../src/conform/vm.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const CLI = join(ROOT, 'dist', 'src', 'cli.js');
const GEN = join(ROOT, 'configs', 'conformance');
const cli = (args: string[]) => spawnSync(process.execPath, [CLI, 'conform', ...args], { encoding: 'utf8', timeout: 120_000 });

test('conform --kernel /nonexistent: exit 2 naming the path, before anything boots', () => {
  const r = cli([join(GEN, 'gen-order4-aligned.json'), '--kernel', '/nonexistent/vmlinuz']);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--kernel: no such file: \/nonexistent\/vmlinuz/);
  assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
});

test('conform of a malformed scenario: exit 2 naming the file and the field', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fs-conform-'));
  const f = join(dir, 'bad.json');
  writeFileSync(f, JSON.stringify({ steps: [{ op: 'write', proc: 'A', addr: '0x400001', len: '0x1000' }] }));
  const r = cli([f, '--kernel', '/nonexistent']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /bad\.json: step 0 \(op "write"\): field "addr"/);
});

const missing = [
  ['/usr/bin/qemu-system-x86_64', 'qemu-system-x86_64'],
  [cachedKernel(), 'the cached 6.12 kernel'],
  [executorPath(ROOT), 'the executor (vm/out/executor)'],
].filter(([p]) => !existsSync(p)).map(([, what]) => what);

if (missing.length) {
  console.log(`conform tests with a real kernel left out: no ${missing.join(', no ')} here; \`npm run conformance:setup\` installs them (.ci/run does where apt is available)`);
} else {
  const files = ['gen-order4-aligned.json', 'gen-fork-o4-parent-writes.json'].map((f) => join(GEN, f));

  test('conform on Linux 6.12: two scenarios agree with the model, observation by observation', { timeout: 180_000 }, async () => {
    const r = await conform({ files, root: ROOT });
    assert.equal(r.exitCode, 0, JSON.stringify(r.results, null, 1));
    assert.deepEqual(r.results.map((x) => x.status), ['agree', 'agree']);
    assert.ok(r.results.every((x) => x.observations > 20 && x.steps >= 3));
    assert.match(r.boots[0].uname ?? '', /^6\.12\./);
  });

  test('conform: a difference made on the model side fails the run (exit 1) and names file, step, process, page and field', { timeout: 180_000 }, async () => {
    const r = await conform({
      files: [files[1]], root: ROOT,
      tamper: (_f, obs) => {
        // step 3: the parent's write copied page 1; make the model claim it kept the shared page
        const s = obs.steps.find((x) => x.step === 3)!;
        const a = s.pages.find((p) => p.proc === 'A' && p.addr === 0x801000)!;
        const b = s.pages.find((p) => p.proc === 'B' && p.addr === 0x801000)!;
        Object.assign(a, { head: b.head, order: b.order, idx: b.idx });
      },
    });
    assert.equal(r.exitCode, 1);
    const d = r.results[0].differences.filter((x) => !x.known);
    assert.ok(d.some((x) => x.step === 3 && x.proc === 'A' && x.addr === 0x801000 && x.field === 'order'), JSON.stringify(d));
    assert.equal(r.results[0].status, 'differ');
  });

  test('conform on Linux 6.12: ext4 over a loop device (write notify, writeback) and a thp step agree; a file-dirty and a soft-dirty difference made on the model side fail the run', { timeout: 180_000 }, async (t) => {
    if (!existsSync(cachedExt4Image())) return t.skip(`no ext4 image (${cachedExt4Image()}): npm run conformance:setup makes it`);
    const ext4 = join(GEN, 'gen-ext4-writeback.json'), thp = join(GEN, 'gen-thp-64K-always-never.json');
    const ok = await conform({ files: [ext4, thp], root: ROOT });
    assert.equal(ok.exitCode, 0, JSON.stringify(ok.results, null, 1));
    const r = await conform({
      files: [ext4, thp], root: ROOT,
      tamper: (f, obs) => {
        if (f === ext4) {
          // step 2 (writeback): make the model claim page 0's folio stayed dirty
          obs.steps.find((x) => x.step === 2)!.pages.find((p) => p.addr === 0x800000)!.dirty = true;
        } else {
          // step 0 (mmap): make the model claim a page past the VMA is soft-dirty
          const p = obs.steps.find((x) => x.step === 0)!.pages;
          p[p.length - 1].softDirty = false;
        }
      },
    });
    assert.equal(r.exitCode, 1);
    const d = r.results.flatMap((x) => x.differences.filter((y) => !y.known).map((y) => `${y.file}:${y.step}:${y.proc}:0x${y.addr?.toString(16)}:${y.field}`));
    assert.deepEqual(d, ['gen-ext4-writeback.json:2:A:0x800000:fileDirty', 'gen-thp-64K-always-never.json:0:A:0x81f000:softDirty']);
  });

  test('conform --kernel without a loop driver, write-notify files: exit 2 naming ext4 over a loop device', { timeout: 120_000 }, async (t) => {
    if (!existsSync(cachedExt4Image())) return t.skip(`no ext4 image (${cachedExt4Image()}): npm run conformance:setup makes it`);
    // the cached kernel under another path: the cached loop module is not given to it, and loop is a module in Debian's kernel
    const dir = mkdtempSync(join(tmpdir(), 'fs-conform-'));
    const k = join(dir, 'vmlinuz');
    copyFileSync(cachedKernel(), k);
    const r = await conform({ files: [join(GEN, 'gen-ext4-writeback.json')], root: ROOT, kernel: k });
    assert.equal(r.exitCode, 2);
    assert.match(r.boots[0].missing?.join() ?? '', /ext4 over a loop device \(write-notify files\): no loop driver .*CONFIG_BLK_DEV_LOOP=y/);
  });

  test('conform --kernel with a file that is not a kernel: exit 3, the console tail kept', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fs-conform-'));
    const notKernel = join(dir, 'vmlinuz');
    writeFileSync(notKernel, 'this is not a kernel\n'.repeat(100));
    const r = await conform({ files: [files[0]], root: ROOT, kernel: notKernel, out: join(dir, 'out'), timeoutMs: 60_000 });
    assert.equal(r.exitCode, 3);
    assert.equal(r.results[0].status, 'vm-failed');
    assert.notEqual(r.boots[0].outcome, 'ok');
    assert.ok((r.boots[0].consoleTail ?? '').length > 0, 'the console tail');
    assert.ok(existsSync(r.boots[0].consoleFile!));
  });

  test('conform with an /init that cannot run: the kernel panics, exit 3 within the timeout, the panic named', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fs-conform-'));
    const broken = join(dir, 'executor');
    writeFileSync(broken, '#!/nonexistent-interpreter\n');
    chmodSync(broken, 0o755);
    const t0 = Date.now();
    const r = await conform({ files: [files[0]], root: ROOT, executor: broken, timeoutMs: 60_000 });
    assert.equal(r.exitCode, 3);
    assert.ok(Date.now() - t0 < 60_000);
    assert.match(r.boots[0].reason ?? '', /Kernel panic|exited/);
    assert.match(r.boots[0].consoleTail ?? '', /init|panic/i);
  });
}
