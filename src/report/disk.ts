// Where results go, checked before any work, and what a failed write says (issue #18).
//
// Output paths: every command that writes checks its output folder (or file) first: created if
// missing, a folder, and writable (a probe file is written and removed). A bad path is a usage
// error (OutputPathError, exit 2) naming the path and the reason, before a seed runs.
//
// Folders are created by makeDirs, one component at a time, never by Node's recursive mkdir: that
// one steps back to the parent on ENOENT and forward again when the parent exists, so under /proc
// (whose mkdir answers ENOENT for a child of a folder that exists) or below a dangling symlink it
// loops forever at 100% CPU in C++, where no signal handler can run (`run --out /proc/x` never
// ended and ignored SIGTERM).
//
// A write that fails later (a full disk, an I/O error, a folder made read-only) is a WriteError
// naming the file and the errno: the run stops and says so (exit 3), it does not crash.
import * as fs from 'node:fs';
import { dirname, join, parse, resolve, sep } from 'node:path';

/** The file system calls results are written with; tests put failures in (ENOSPC, EIO, ...). */
export interface WriteFs {
  openSync(path: string, flags: string): number;
  writeSync(fd: number, data: Uint8Array): number;
  fsyncSync(fd: number): void;
  closeSync(fd: number): void;
  renameSync(from: string, to: string): void;
  rmSync(path: string, opts: { force?: boolean; recursive?: boolean }): void;
  mkdirSync(path: string): void;
  statSync(path: string): fs.Stats;
}

export const nodeFs: WriteFs = {
  openSync: (p, f) => fs.openSync(p, f),
  writeSync: (fd, d) => fs.writeSync(fd, d),
  fsyncSync: (fd) => fs.fsyncSync(fd),
  closeSync: (fd) => fs.closeSync(fd),
  renameSync: (a, b) => fs.renameSync(a, b),
  rmSync: (p, o) => fs.rmSync(p, o),
  mkdirSync: (p) => fs.mkdirSync(p),
  statSync: (p) => fs.statSync(p),
};

/** "ENOSPC: no space left on device" from a Node fs error (its message without the syscall and path). */
export function errnoText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.code === 'string') {
    const m = /^([A-Z0-9]+): ([^,]+)/.exec(err.message ?? '');
    return m && m[1] === err.code ? `${m[1]}: ${m[2]}` : err.code;
  }
  return e instanceof Error ? e.message : String(e);
}

/** A bad output path, found before any work: exit 2, one line naming the path and the reason. */
export class OutputPathError extends Error {}

/** A write that failed during the work (ENOSPC, EIO, EACCES, EROFS, ...): names the file and the errno. */
export class WriteError extends Error {
  constructor(readonly file: string, override readonly cause: unknown) {
    super(`cannot write ${file}: ${errnoText(cause)}`);
  }
  get code(): string | undefined {
    return (this.cause as NodeJS.ErrnoException)?.code;
  }
}

/** Why a folder cannot be made or written in, as one phrase naming it; cause is the fs error. */
export class DirError extends Error {
  constructor(message: string, readonly path: string, override readonly cause: unknown) {
    super(message);
  }
}

/**
 * mkdir -p, a component at a time from the root: each is created, or must already be a folder.
 * At most one mkdir and one stat per component, so it ends on every path. Returns the folders it
 * created (outermost first). Throws DirError naming the component that failed.
 */
export function makeDirs(dir: string, wfs: WriteFs = nodeFs): string[] {
  const abs = resolve(dir);
  const root = parse(abs).root;
  const parts = abs.slice(root.length).split(sep).filter(Boolean);
  const made: string[] = [];
  let p = root;
  for (const part of parts) {
    p = join(p, part);
    try {
      wfs.mkdirSync(p);
      made.push(p);
      continue;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // ENOENT with the parent there (it was just made or found): a folder that takes no new entries (/proc, /sys)
      if (code === 'ENOENT') throw new DirError(`cannot create the folder ${p}: ${errnoText(e)} (${dirname(p)} exists but takes no new folders)`, p, e);
      if (code !== 'EEXIST') throw new DirError(`cannot create the folder ${p}: ${errnoText(e)}`, p, e);
    }
    let st: fs.Stats;
    try {
      st = wfs.statSync(p);
    } catch (e) {
      throw new DirError(`${p} exists but cannot be read: ${errnoText(e)}${(e as NodeJS.ErrnoException).code === 'ENOENT' ? ' (a dangling symbolic link?)' : ''}`, p, e);
    }
    if (!st.isDirectory()) throw new DirError(`${p} is ${st.isFile() ? 'a file, ' : ''}not a folder`, p, Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${p}'`), { code: 'ENOTDIR' }));
  }
  return made;
}

/** Write and remove a small file in dir: a folder that takes new files (not read-only, not full, permitted). */
function probe(dir: string, wfs: WriteFs): void {
  const f = join(dir, `.foliostorm-probe-${process.pid}`);
  try {
    const fd = wfs.openSync(f, 'w');
    try {
      wfs.writeSync(fd, Buffer.from('.'));
    } finally {
      wfs.closeSync(fd);
    }
  } catch (e) {
    try {
      wfs.rmSync(f, { force: true });
    } catch {
      // nothing was created, or it cannot be removed either: the error below says why
    }
    throw new DirError(`cannot write in ${dir}: ${errnoText(e)}`, f, e);
  }
  wfs.rmSync(f, { force: true });
}

/**
 * The folder dir, created if missing, checked to be a folder that takes new files. label names
 * where it came from (a flag: "--out"), given the path as the user gave it. Throws OutputPathError: "--out /proc/x: cannot create the
 * folder /proc/x: ENOENT: no such file or directory".
 */
export function prepareOutputDir(dir: string, label: string, wfs: WriteFs = nodeFs, given = dir): void {
  try {
    makeDirs(dir, wfs);
    probe(dir, wfs);
  } catch (e) {
    if (e instanceof DirError) throw new OutputPathError(`${label} ${given}: ${e.message}`);
    throw e;
  }
}

/**
 * A folder that is to be created by the writer later (merge --out: it must not exist or be
 * empty, and is not made before the inputs are read): its parent is created if missing and must
 * take new entries; dir itself, if it exists, must be a folder.
 */
export function checkNewOutputDir(dir: string, label: string, wfs: WriteFs = nodeFs): void {
  prepareOutputDir(dirname(resolve(dir)), label, wfs, dir);
  notOtherThan(dir, 'folder', label, wfs);
}

/**
 * A file to be written (renamed into place by writeAtomic): its folder is created if missing and
 * must take new files; the file itself, if it exists, must not be a folder.
 */
export function checkOutputFile(file: string, label: string, wfs: WriteFs = nodeFs): void {
  prepareOutputDir(dirname(resolve(file)), label, wfs, file);
  notOtherThan(file, 'file', label, wfs);
}

/** makeDirs during the work: a failure is a WriteError naming the folder (the run stops, exit 3). */
export function makeDirsForWrite(dir: string, wfs: WriteFs = nodeFs): void {
  try {
    makeDirs(dir, wfs);
  } catch (e) {
    if (e instanceof DirError) throw new WriteError(e.path, e.cause);
    throw e;
  }
}

function notOtherThan(path: string, want: 'file' | 'folder', label: string, wfs: WriteFs): void {
  let st: fs.Stats;
  try {
    st = wfs.statSync(path);
  } catch {
    return; // absent: it will be created
  }
  if (want === 'folder' && !st.isDirectory()) throw new OutputPathError(`${label} ${path}: ${st.isFile() ? 'a file, ' : ''}not a folder`);
  if (want === 'file' && st.isDirectory()) throw new OutputPathError(`${label} ${path}: a folder, not a file`);
}
