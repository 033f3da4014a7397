// Reading a run's results folder back (summary.json and the .hgrm files), for `foliostorm report`.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Summary } from './summary.js';
import { type Hgrm, parseHgrm } from './hgrm.js';

/** The folder or its summary.json is missing or unreadable: a usage error (exit 2), naming the path. */
export class ResultsFolderError extends Error {}

/** Every DIR/*.hgrm, by histogram name ("ptl.wait.hgrm" -> "ptl.wait"). */
export function readHgrms(dir: string): Map<string, Hgrm> {
  const out = new Map<string, Hgrm>();
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.hgrm')).sort()) {
    const name = f.slice(0, -'.hgrm'.length);
    out.set(name, parseHgrm(name, readFileSync(join(dir, f), 'utf8')));
  }
  return out;
}

/** DIR/summary.json, checked to be a foliostorm run summary. */
export function readSummary(dir: string): Summary {
  if (!existsSync(dir)) throw new ResultsFolderError(`results folder "${dir}" does not exist`);
  if (!statSync(dir).isDirectory()) throw new ResultsFolderError(`"${dir}" is not a folder (give the results folder of one run, e.g. results/<run-id>)`);
  const file = join(dir, 'summary.json');
  if (!existsSync(file)) throw new ResultsFolderError(`"${file}" does not exist: "${dir}" is not the results folder of a run (e.g. results/<run-id>)`);
  let s: Partial<Summary>;
  try {
    s = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ResultsFolderError(`"${file}": not readable JSON (${(e as Error).message})`);
  }
  if (!s || s.tool !== 'foliostorm' || typeof s.latency !== 'object' || !Array.isArray(s.signatures)) {
    throw new ResultsFolderError(`"${file}": not a foliostorm run summary (no "tool": "foliostorm", "latency" or "signatures")`);
  }
  return s as Summary;
}
