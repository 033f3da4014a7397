// The real kernel side of `conform`: where the kernel and the executor are, the initramfs (a newc
// cpio archive written here, so that nothing but qemu is needed at run time), and one qemu boot
// that runs a batch of compiled scenarios and returns its console output.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';

/** The Debian kernel `npm run conformance:setup` fetches. */
export const KERNEL_PACKAGE = 'linux-image-6.12.118+deb12-cloud-amd64';
export const SETUP_HINT = 'run `npm run conformance:setup` (Debian: installs qemu-system-x86, zstd, gcc and static libc, fetches the 6.12 kernel, builds the executor)';

/** The cache folder: $FOLIOSTORM_CACHE, else ~/.cache/foliostorm. */
export function cacheDir(): string {
  return process.env.FOLIOSTORM_CACHE || join(homedir(), '.cache', 'foliostorm');
}
/** The kernel image conformance:setup leaves in the cache. */
export const cachedKernel = (): string => join(cacheDir(), 'kernel', 'vmlinuz');
/** The empty ext4 image conformance:setup makes (mke2fs): the file system of write-notify files. */
export const cachedExt4Image = (): string => join(cacheDir(), 'ext4.img');
/** The cached kernel's loop driver (a module in Debian's kernel), decompressed by conformance:setup. */
export const cachedLoopModule = (): string => join(cacheDir(), 'kernel', 'loop.ko');
/** The executor binary vm/build.sh builds. */
export const executorPath = (root: string): string => join(root, 'vm', 'out', 'executor');

/** A cpio "newc" archive of the given entries (directories have no data). */
export function cpioNewc(entries: readonly { name: string; mode: number; data?: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const pad = (n: number): Buffer => Buffer.alloc((4 - (n % 4)) % 4);
  const put = (name: string, mode: number, data: Buffer, nlink: number): void => {
    const nameBuf = Buffer.from(`${name}\0`);
    const fields = [ino++, mode, 0, 0, nlink, 0, data.length, 0, 0, 0, 0, nameBuf.length, 0];
    const head = Buffer.from(`070701${fields.map((f) => f.toString(16).padStart(8, '0')).join('')}`);
    parts.push(head, nameBuf, pad(head.length + nameBuf.length), data, pad(data.length));
  };
  for (const e of entries) put(e.name, e.mode, e.data ?? Buffer.alloc(0), e.data ? 1 : 2);
  put('TRAILER!!!', 0, Buffer.alloc(0), 1);
  return Buffer.concat(parts);
}

/**
 * The initramfs of one boot: the executor as /init and the batch's steps.txt; for a batch with
 * write-notify files also the ext4 image (/ext4.img) and the loop module (/loop.ko), if given.
 */
export function initramfs(executor: Buffer, steps: string, ext4?: { image: Buffer; loop?: Buffer }): Buffer {
  const DIR = 0o040755, EXEC = 0o100755, FILE = 0o100644;
  return gzipSync(cpioNewc([
    { name: 'proc', mode: DIR }, { name: 'sys', mode: DIR }, { name: 'dev', mode: DIR }, { name: 'tmp', mode: DIR },
    { name: 'init', mode: EXEC, data: executor },
    { name: 'steps.txt', mode: FILE, data: Buffer.from(steps) },
    ...(ext4 ? [{ name: 'ext4.img', mode: FILE, data: ext4.image }] : []),
    ...(ext4?.loop ? [{ name: 'loop.ko', mode: FILE, data: ext4.loop }] : []),
  ]), { level: 1 });
}

/**
 * What a boot with write-notify files adds to its initramfs: the ext4 image, and the loop module
 * when the kernel is the cached one (a --kernel of the user's needs loop built in, or it is named
 * in the scenario's error). Throws MissingPrerequisite without the image.
 */
export function ext4Extras(kernel: string): { image: Buffer; loop?: Buffer } {
  const img = cachedExt4Image();
  if (!existsSync(img)) throw new MissingPrerequisite(`no ext4 image for the write-notify files (${img}): ${SETUP_HINT}`);
  const loop = cachedLoopModule();
  return { image: readFileSync(img), loop: resolve(kernel) === resolve(cachedKernel()) && existsSync(loop) ? readFileSync(loop) : undefined };
}

/** Is this file a kernel qemu can boot directly: a bzImage ("HdrS" at 0x202) or an ELF vmlinux? */
export function kernelKind(path: string): 'bzImage' | 'vmlinux' | null {
  const b = readFileSync(path).subarray(0, 0x210);
  if (b.length >= 0x206 && b.toString('latin1', 0x202, 0x206) === 'HdrS') return 'bzImage';
  if (b.length >= 4 && b[0] === 0x7f && b.toString('latin1', 1, 4) === 'ELF') return 'vmlinux';
  return null;
}

/** A prerequisite that is missing: exit 2 with the setup command. */
export class MissingPrerequisite extends Error {}

/** The qemu binary, the kernel and the executor, checked; throws MissingPrerequisite naming what is missing. */
export function locate(root: string, kernelArg?: string, executorArg?: string): { qemu: string; kernel: string; executor: string } {
  // the user's --kernel first: a wrong path is named whatever else is missing
  if (kernelArg && !existsSync(resolve(kernelArg))) throw new MissingPrerequisite(`--kernel: no such file: ${resolve(kernelArg)}`);
  const qemu = ['/usr/bin/qemu-system-x86_64', '/usr/local/bin/qemu-system-x86_64'].find((p) => existsSync(p));
  if (!qemu) throw new MissingPrerequisite(`qemu-system-x86_64 is not installed: ${SETUP_HINT}`);
  const kernel = kernelArg ? resolve(kernelArg) : cachedKernel();
  if (!existsSync(kernel)) {
    throw new MissingPrerequisite(kernelArg ? `--kernel: no such file: ${kernel}` : `no kernel in the cache (${kernel}): ${SETUP_HINT}, or give --kernel PATH`);
  }
  if (!statSync(kernel).isFile()) throw new MissingPrerequisite(`--kernel: not a file: ${kernel}`);
  const executor = executorArg ?? executorPath(root);
  if (!existsSync(executor)) throw new MissingPrerequisite(`the executor is not built (${executor}): run \`bash vm/build.sh\` or ${SETUP_HINT}`);
  return { qemu, kernel, executor };
}

export interface BootResult {
  console: string;
  /** how the VM ended: powered off after "done", or not */
  outcome: 'ok' | 'timeout' | 'crashed';
  /** the reason, for a boot that did not end well (a panic line, the exit status) */
  reason?: string;
  seconds: number;
}

/** Boot the kernel with this initramfs (TCG: KVM fails on these machines, issue 16) and collect its console until it powers off or the timeout. */
export function boot(qemu: string, kernel: string, initrd: string, timeoutMs: number, memMb = 512): Promise<BootResult> {
  const t0 = Date.now();
  const args = ['-accel', 'tcg', '-M', 'pc', '-cpu', 'max', '-m', `${memMb}M`, '-smp', '1', '-nographic', '-no-reboot', '-kernel', kernel, '-initrd', initrd,
    '-append', 'console=ttyS0 quiet panic=-1 mitigations=off'];
  return new Promise((done) => {
    const child = spawn(qemu, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => chunks.push(c));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8');
      const seconds = (Date.now() - t0) / 1000;
      if (timedOut) return done({ console: text, outcome: 'timeout', reason: `no power-off within ${timeoutMs / 1000} s`, seconds });
      const panic = /Kernel panic[^\n]*/.exec(text);
      if (!text.includes('{"t":"done"}')) return done({ console: text, outcome: 'crashed', reason: panic ? panic[0].trim() : `qemu exited (status ${code}) before the executor finished`, seconds });
      done({ console: text, outcome: 'ok', seconds });
    });
  });
}
