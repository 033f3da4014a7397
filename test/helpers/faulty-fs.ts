// A WriteFs (src/report/disk.ts) over the real file system that fails on purpose: the chosen call
// throws an error with the chosen errno, as Node's fs would, on the files `when` picks, from the
// `after`-th such call on (0: the first). Tests of full disks (ENOSPC), I/O errors (EIO), lost
// permissions (EACCES) and read-only remounts (EROFS) without needing any of them.
import { nodeFs, type WriteFs } from '../../src/report/disk.js';

export type FsCall = 'openSync' | 'writeSync' | 'fsyncSync' | 'closeSync' | 'renameSync' | 'mkdirSync';

const TEXT: Record<string, string> = {
  ENOSPC: 'no space left on device', EIO: 'i/o error', EACCES: 'permission denied', EROFS: 'read-only file system', EDQUOT: 'disk quota exceeded',
};

export function errnoError(code: string, syscall: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${TEXT[code] ?? code.toLowerCase()}, ${syscall} '${path}'`), { code, syscall, path, errno: -1 });
}

export interface FaultyFs extends WriteFs {
  /** How many calls failed so far. */
  failed: number;
  /** Every path opened for writing, in order (the final name, for a temporary file). */
  opened: string[];
}

/** fail `call` with `code` on the paths `when` picks (default: all), from the `after`-th such call on. */
export function faultyFs(call: FsCall, code: string, opts: { when?: (path: string) => boolean; after?: number } = {}): FaultyFs {
  const paths = new Map<number, string>();
  let seen = 0;
  const f: FaultyFs = {
    failed: 0,
    opened: [],
    ...nodeFs,
  };
  const fail = (c: FsCall, path: string): void => {
    if (c !== call || !(opts.when?.(path) ?? true)) return;
    if (seen++ < (opts.after ?? 0)) return;
    f.failed++;
    throw errnoError(code, c.replace(/Sync$/, ''), path);
  };
  f.openSync = (p, flags) => {
    fail('openSync', p);
    const fd = nodeFs.openSync(p, flags);
    paths.set(fd, p);
    f.opened.push(p.replace(/\/\.([^/]+)\.tmp-\d+$/, '/$1'));
    return fd;
  };
  f.writeSync = (fd, d) => (fail('writeSync', paths.get(fd) ?? '?'), nodeFs.writeSync(fd, d));
  f.fsyncSync = (fd) => (fail('fsyncSync', paths.get(fd) ?? '?'), nodeFs.fsyncSync(fd));
  f.closeSync = (fd) => {
    const p = paths.get(fd) ?? '?';
    paths.delete(fd);
    nodeFs.closeSync(fd);
    fail('closeSync', p);
  };
  f.renameSync = (a, b) => (fail('renameSync', b), nodeFs.renameSync(a, b));
  f.mkdirSync = (p) => (fail('mkdirSync', p), nodeFs.mkdirSync(p));
  return f;
}
