// Failure artifacts: one JSON file per violation with everything needed to replay it.
import { readFileSync } from 'node:fs';
import type { Config } from '../config/config.js';
import { parseConfig } from '../config/config.js';
import type { ViolationRecord } from '../engine/result.js';
import { type Op, OP_KINDS } from '../workload/program.js';
import { signatureOf } from '../machine/cpu.js';
import type { RingEvent } from '../diag/flight-recorder.js';

/** 2: signatures name the deviations switched on (version 1 artifacts are read and upgraded). */
export const ARTIFACT_VERSION = 2;

export interface Artifact {
  version: number;
  tool: 'foliostorm';
  engine: 'sched' | 'threads';
  seed: number;
  config: Config;
  invariant: string;
  path: string;
  signature: string;
  details: Record<string, unknown>;
  cpu: number;
  step: number;
  schedule?: number[];
  opsStarted?: number[];
  /**
   * Each CPU's ops as an explicit list (a shrunk failure; a threads failure's streams). Absent:
   * the ops are the seeded stream of (seed, cpu).
   */
  programs?: Op[][];
  /** threads: per CPU, per op of programs, the global sequence number of its OP_START (ascending). */
  opSeqs?: number[][];
  /** threads: per CPU, per op of programs, the CPU's event number of its OP_START (as events[].n). */
  opEventNos?: number[][];
  events: RingEvent[][];
  replay: string;
  /** The interleaving view (one column per CPU, ending at the violation), when the artifact has one. */
  interleaving?: string[];
  /** A shrunk artifact: what it was shrunk from and how far. */
  shrunk?: ShrinkRecord;
}

/** The sizes of a failing case: what shrinking makes smaller. */
export interface CaseSize {
  cpus: number;
  processes: number;
  /** ops in all programs (started before the violation) */
  ops: number;
  /** scheduler steps up to the violation */
  steps: number;
  /** switches away from a CPU in the middle of an op that could still run */
  preemptions: number;
}

export interface ShrinkRecord {
  /** the artifact shrunk */
  from: string;
  before: CaseSize;
  after: CaseSize;
  /** candidate runs made, and the wall-clock seconds they took */
  runs: number;
  seconds: number;
  /** true when every pass ran to its end; false when the budget ran out first */
  finished: boolean;
}

export function makeArtifact(cfg: Config, v: ViolationRecord, file: string): Artifact {
  return {
    version: ARTIFACT_VERSION, tool: 'foliostorm', engine: v.engine, seed: v.seed, config: cfg,
    invariant: v.invariant, path: v.path, signature: v.signature, details: v.details, cpu: v.cpu, step: v.step,
    schedule: v.schedule, opsStarted: v.opsStarted, programs: v.programs, opSeqs: v.opSeqs, opEventNos: v.opEventNos, events: v.events,
    replay: `npx foliostorm repro ${file}`,
  };
}

export class ArtifactError extends Error {}

/** Read and validate an artifact; errors name the file and field. */
export function loadArtifact(file: string): Artifact {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ArtifactError(`${file}: cannot read artifact: ${(e as Error).message}`);
  }
  const a = raw as Partial<Artifact>;
  const need = (field: keyof Artifact, ok: boolean) => {
    if (!ok) throw new ArtifactError(`${file}: field "${field}" is missing or malformed`);
  };
  need('tool', a.tool === 'foliostorm');
  need('version', a.version === ARTIFACT_VERSION || a.version === 1);
  need('engine', a.engine === 'sched' || a.engine === 'threads');
  need('seed', Number.isInteger(a.seed));
  need('signature', typeof a.signature === 'string');
  need('config', typeof a.config === 'object' && a.config !== null);
  a.config = parseConfig(a.config, `${file} (config)`);
  need('schedule', a.schedule === undefined || (Array.isArray(a.schedule) && a.schedule.length % 2 === 0 && a.schedule.every((x) => Number.isInteger(x) && x >= 0)));
  need('interleaving', a.interleaving === undefined || (Array.isArray(a.interleaving) && a.interleaving.every((l) => typeof l === 'string')));
  need('programs', a.programs === undefined || (Array.isArray(a.programs) && a.programs.length === a.config.cpus && a.programs.every((p) => Array.isArray(p) && p.every(isOp))));
  // per op of programs, ascending (seqs strictly: one global counter; event numbers strictly: one CPU's)
  const perOp = (x: unknown) => x === undefined || (Array.isArray(x) && a.programs !== undefined && x.length === a.programs.length &&
    x.every((l, c) => Array.isArray(l) && l.length === a.programs![c].length && l.every((n, i) => Number.isInteger(n) && n >= 0 && (i === 0 || n > l[i - 1]))));
  need('opSeqs', perOp(a.opSeqs));
  need('opEventNos', perOp(a.opEventNos) && (a.opSeqs === undefined) === (a.opEventNos === undefined));
  if (a.version === 1) {
    need('invariant', typeof a.invariant === 'string');
    need('path', typeof a.path === 'string');
    a.signature = signatureOf(a.invariant!, a.path!, a.config.inject);
    a.version = ARTIFACT_VERSION;
  }
  return a as Artifact;
}

function isOp(o: unknown): o is Op {
  const x = o as Op;
  return typeof x === 'object' && x !== null && (OP_KINDS as readonly string[]).includes(x.kind) && Number.isInteger(x.proc) && x.proc >= 0 &&
    typeof x.write === 'boolean' && [x.r1, x.r2, x.r3].every((r) => Number.isInteger(r) && r >= 0 && r <= 0xffffffff);
}
