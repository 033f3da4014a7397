// The one results writer: every run writes one folder (summary.json, .hgrm files, histograms.json,
// failures/).
// Files are written to a temporary name and renamed, so a crash never leaves half a summary. The
// folder is checked when the writer is made (src/report/disk.ts: a bad one is a usage error, before
// any work); a write that fails later throws a WriteError naming the file and the errno.
import { basename, dirname, join, relative } from 'node:path';
import { makeDirsForWrite, nodeFs, prepareOutputDir, WriteError, type WriteFs } from './disk.js';
import type { Config } from '../config/config.js';
import type { ViolationRecord } from '../engine/result.js';
import { makeArtifact } from './artifact.js';
import type { HistSet } from '../machine/histograms.js';
import type { EncodedSeedGroups } from './seed-groups.js';

/** Keep at most this many artifacts per signature (the smallest seeds come first in seed order). */
export const ARTIFACTS_PER_SIGNATURE = 3;

/** The addable histograms of a results folder: { format, unit, h: { name: base64 }, seedGroups? } (EncodedHists, EncodedSeedGroups). */
export const HISTOGRAMS_FILE = 'histograms.json';

/**
 * Write file whole or not at all: the data goes to a temporary name in the same folder, is flushed
 * to the disk (fsync), then renamed over file. A crash, a kill or a full disk leaves the old file
 * or none, never half of one (and no temporary file when the write itself fails). A process killed
 * outright mid-write (SIGKILL, OOM) can leave its hidden temporary file (`.NAME.tmp-PID`); nothing
 * reads those. A failure throws WriteError (file, errno).
 */
export function writeAtomic(file: string, data: string, wfs: WriteFs = nodeFs): void {
  const tmp = join(dirname(file), `.${basename(file)}.tmp-${process.pid}`);
  try {
    const fd = wfs.openSync(tmp, 'w');
    try {
      // writeSync may write less than asked (a nearly full disk): go on until all is written
      const buf = Buffer.from(data);
      for (let off = 0; off < buf.length;) off += wfs.writeSync(fd, buf.subarray(off));
      wfs.fsyncSync(fd);
    } finally {
      wfs.closeSync(fd);
    }
    wfs.renameSync(tmp, file);
  } catch (e) {
    try {
      wfs.rmSync(tmp, { force: true });
    } catch {
      // the folder itself went (read-only, gone): the error that matters is the write's
    }
    throw e instanceof WriteError ? e : new WriteError(file, e);
  }
}

export function signatureId(signature: string): string {
  return signature.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^_+|_+$/g, '');
}

export interface WriterOptions {
  /** What the root is called in a bad-path error (the flag: "--out"). */
  label?: string;
  /** The file system calls (tests: failures put in). */
  fs?: WriteFs;
}

export class ResultsWriter {
  readonly dir: string;
  private readonly perSig = new Map<string, number>();
  private readonly fs: WriteFs;
  /** root/runId, created (or an existing folder) and checked to take new files: else OutputPathError (exit 2). */
  constructor(root: string, runId: string, opts: WriterOptions = {}) {
    this.dir = join(root, runId);
    this.fs = opts.fs ?? nodeFs;
    prepareOutputDir(this.dir, opts.label ?? 'results folder', this.fs);
  }
  json(name: string, obj: unknown): string {
    const f = join(this.dir, name);
    writeAtomic(f, JSON.stringify(obj, null, 2) + '\n', this.fs);
    return f;
  }
  text(name: string, s: string): string {
    const f = join(this.dir, name);
    writeAtomic(f, s, this.fs);
    return f;
  }
  /**
   * One .hgrm per histogram ("op.touch" -> op.touch.hgrm: percentiles, for people; not addable),
   * and histograms.json: every histogram encoded (HdrHistogram compressed base64) with the unit,
   * so results folders (shards) merge by HdrHistogram addition (HistSet.decode, add); and, when
   * given, the seed groups' counts and histograms in the same encoding (seedGroups, for compare's
   * noise test; src/report/seed-groups.ts).
   */
  histograms(h: HistSet, groups?: EncodedSeedGroups): string[] {
    const files = h.names().map((n) => this.text(`${n}.hgrm`, `# ${n}, unit: ${h.unit}\n${h.hgrm(n)}`));
    files.push(this.json(HISTOGRAMS_FILE, { format: 'HdrHistogram compressed base64 (hdr-histogram-js encodeIntoCompressedBase64)', ...h.encode(), ...(groups ? { seedGroups: groups } : {}) }));
    return files;
  }
  /**
   * Write the artifact of v (unless its signature already has enough); sets v.artifact. tag tells
   * apart artifacts of one seed found under different settings (the hunt: scheduler, engine).
   */
  artifact(cfg: Config, v: ViolationRecord, tag = ''): string | undefined {
    const shown = this.placeArtifact(v.signature, `seed-${v.seed}${tag ? `-${tag}` : ''}.json`, (shown) => makeArtifact(cfg, v, shown));
    if (shown) v.artifact = shown;
    return shown;
  }
  /**
   * Write failures/<signature-id>/<name> with what make returns for the path it is shown under
   * (the replay command names it), unless the signature already has ARTIFACTS_PER_SIGNATURE.
   */
  placeArtifact(signature: string, name: string, make: (shown: string) => unknown): string | undefined {
    const n = this.perSig.get(signature) ?? 0;
    if (n >= ARTIFACTS_PER_SIGNATURE) return undefined;
    this.perSig.set(signature, n + 1);
    return this.writeFailureFile(signature, name, make);
  }
  /** Write the artifact of v whatever its signature's count (the caller chooses which to keep); sets v.artifact. */
  writeArtifact(cfg: Config, v: ViolationRecord, tag = ''): string {
    const shown = this.writeFailureFile(v.signature, `seed-${v.seed}${tag ? `-${tag}` : ''}.json`, (shown) => makeArtifact(cfg, v, shown));
    v.artifact = shown;
    return shown;
  }
  /** failures/<signature-id>/<name>, holding what make returns for the path it is shown under. */
  private writeFailureFile(signature: string, name: string, make: (shown: string) => unknown): string {
    const dir = join(this.dir, 'failures', signatureId(signature));
    makeDirsForWrite(dir, this.fs);
    const file = join(dir, name);
    const shown = relative(process.cwd(), file) || file;
    writeAtomic(file, JSON.stringify(make(shown), null, 1) + '\n', this.fs);
    return shown;
  }
  /** Remove the artifact of v written earlier (a smaller seed took its place); clears v.artifact. */
  removeArtifact(v: ViolationRecord): void {
    if (v.artifact) {
      try {
        this.fs.rmSync(v.artifact, { force: true });
      } catch (e) {
        throw new WriteError(v.artifact, e);
      }
    }
    v.artifact = undefined;
  }
}

/** A results folder name: UTC time, what ran (engine or command), first seed, pid. */
export function makeRunId(engine: string, seed: number, now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const t = `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}-${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`;
  return `${t}-${engine}-seed${seed}-${process.pid}`;
}
