import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { cpioNewc, initramfs, kernelKind } from '../../src/conform/vm.js';

/** Parse a newc archive back: name -> { mode, data }. */
function unpack(buf: Buffer): Map<string, { mode: number; data: Buffer }> {
  const out = new Map<string, { mode: number; data: Buffer }>();
  let off = 0;
  for (;;) {
    assert.equal(buf.toString('latin1', off, off + 6), '070701', `magic at ${off}`);
    const f = (i: number) => parseInt(buf.toString('latin1', off + 6 + i * 8, off + 14 + i * 8), 16);
    const mode = f(1), size = f(6), nameSize = f(11);
    const name = buf.toString('latin1', off + 110, off + 110 + nameSize - 1);
    off += Math.ceil((110 + nameSize) / 4) * 4;
    const data = buf.subarray(off, off + size);
    off += Math.ceil(size / 4) * 4;
    if (name === 'TRAILER!!!') return out;
    out.set(name, { mode, data });
  }
}

test('cpio newc: every entry comes back with its mode and data, 4-byte aligned, trailer last', () => {
  const a = cpioNewc([{ name: 'dir', mode: 0o040755 }, { name: 'x', mode: 0o100755, data: Buffer.from('abcde') }, { name: 'y', mode: 0o100644, data: Buffer.alloc(0) }]);
  assert.equal(a.length % 4, 0);
  const e = unpack(a);
  assert.deepEqual([...e.keys()], ['dir', 'x', 'y']);
  assert.equal(e.get('x')!.data.toString(), 'abcde');
  assert.equal(e.get('x')!.mode, 0o100755);
  assert.equal(e.get('dir')!.mode, 0o040755);
});

test('initramfs: /init is the executor, steps.txt the batch, and the mount points exist', () => {
  const e = unpack(gunzipSync(initramfs(Buffer.from('ELF...'), 'scenario 0\nend\n')));
  assert.equal(e.get('init')!.data.toString(), 'ELF...');
  assert.equal(e.get('steps.txt')!.data.toString(), 'scenario 0\nend\n');
  for (const d of ['proc', 'sys', 'dev', 'tmp']) assert.ok(e.has(d), d);
  assert.ok(!e.has('ext4.img') && !e.has('loop.ko'), 'no ext4 unless asked');
  const x = unpack(gunzipSync(initramfs(Buffer.from('ELF...'), 'end\n', { image: Buffer.alloc(8192, 1), loop: Buffer.from('ko') })));
  assert.equal(x.get('ext4.img')!.data.length, 8192, 'the ext4 image of a boot with write-notify files');
  assert.equal(x.get('loop.ko')!.data.toString(), 'ko');
});

test('kernelKind: a bzImage, an ELF vmlinux, anything else', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fs-kernel-'));
  const bz = Buffer.alloc(0x300);
  bz.write('HdrS', 0x202, 'latin1');
  writeFileSync(join(dir, 'bz'), bz);
  writeFileSync(join(dir, 'elf'), Buffer.concat([Buffer.from([0x7f]), Buffer.from('ELF'), Buffer.alloc(60)]));
  writeFileSync(join(dir, 'txt'), 'not a kernel');
  assert.equal(kernelKind(join(dir, 'bz')), 'bzImage');
  assert.equal(kernelKind(join(dir, 'elf')), 'vmlinux');
  assert.equal(kernelKind(join(dir, 'txt')), null);
});
