// Where threads CPUs under threadsCode "stripped" load the kernel paths from: the threads build
// (dist/threads, src/build/strip-generators.ts) when it is there and up to date with every file it
// was made from, else the generator code itself (the same paths, slower), with one warning. A stale
// copy is never run: the manifest records each source file's size and time.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { Manifest } from '../build/strip-generators.js';

/** dist/: this file is dist/src/engine/threads-code.js. */
const DIST = new URL('../../', import.meta.url);

let fresh: boolean | null = null;
let why = '';

/** Is dist/threads there and made from the files dist holds now? (checked once per process) */
export function threadsBuildFresh(): boolean {
  if (fresh !== null) return fresh;
  const dist = fileURLToPath(DIST);
  const file = join(dist, 'threads', 'manifest.json');
  fresh = false;
  if (!existsSync(file)) why = 'dist/threads is missing';
  else {
    const m = JSON.parse(readFileSync(file, 'utf8')) as Manifest;
    const stale = Object.entries(m.files).find(([rel, s]) => {
      if (!existsSync(join(dist, rel))) return true;
      const st = statSync(join(dist, rel));
      return st.size !== s.size || st.mtimeMs !== s.mtimeMs;
    });
    if (stale) why = `dist/threads is older than dist/${stale[0]}`;
    else fresh = true;
  }
  return fresh;
}

/**
 * The URL of a compiled module (rel: its path in dist, e.g. "workers/cpu-task.js") in the threads
 * build, or in dist itself when that build is missing or stale (warned once).
 */
export function threadsCodeUrl(rel: string): URL {
  if (threadsBuildFresh()) return new URL(`threads/${rel}`, DIST);
  if (!warned) {
    warned = true;
    process.emitWarning(`${why} (npm run build makes it): the threads engine runs the kernel paths as generators, correct but slower`, { code: 'FOLIOSTORM_THREADS_BUILD' });
  }
  return new URL(rel, DIST);
}
let warned = false;
