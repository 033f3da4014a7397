// Reading results folders back (report, merge, compare): summary.json, histograms.json and the
// .hgrm files, checked enough that a wrong folder or a hand-edited file gives an error naming the
// folder, file and field.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { Summary } from './summary.js';
import type { EncodedHists, Unit } from '../machine/histograms.js';
import { HISTOGRAMS_FILE } from './results.js';
import type { EncodedSeedGroups } from './seed-groups.js';
import { type Hgrm, parseHgrm } from './hgrm.js';

/** Bad input: a missing folder, a missing or malformed file, folders that do not go together. */
export class ResultsInputError extends Error {}

const counts = z.record(z.string(), z.number());
const hist = z.object({ count: z.number(), p50: z.number(), p90: z.number(), p99: z.number(), max: z.number(), unit: z.enum(['steps', 'ns']) });
const violation = z.looseObject({ signature: z.string(), invariant: z.string(), path: z.string(), seed: z.number().int(), artifact: z.string().optional(), variant: z.string().optional(), details: z.record(z.string(), z.unknown()) });
const signature = z.object({ signature: z.string(), invariant: z.string(), path: z.string(), count: z.number().int(), smallestSeed: z.number().int(), artifacts: z.array(z.string()) });
const opCost = z.object({ ops: z.number(), tlbiPage: z.number(), tlbiRange: z.number(), tlbiMm: z.number(), contFold: z.number(), contUnfold: z.number(), tlbiPerOp: z.number(), unfoldPerOp: z.number() });

/** The parts of summary.json that merge and compare read (other fields pass through unchecked). */
const SummaryShape = z.looseObject({
  tool: z.literal('foliostorm'),
  version: z.string(),
  engine: z.enum(['sched', 'threads']),
  interrupted: z.boolean(),
  config: z.looseObject({ seed: z.number().int(), engine: z.enum(['sched', 'threads']) }),
  shard: z.object({ index: z.number().int().min(1), count: z.number().int().min(1) }).optional(),
  seeds: z.looseObject({ count: z.number().int(), list: z.array(z.number().int()) }),
  wallSeconds: z.number(),
  ops: counts,
  events: counts,
  anonFault: z.looseObject({ faults: z.number(), refaults: z.number(), recheckChangedTotal: z.number(), lostRaceExit: z.number(), allocFallback: counts }),
  tlb: z.looseObject({ flushRange: z.number(), flushMm: z.number(), byOp: z.record(z.string(), opCost) }),
  latency: z.record(z.string(), hist),
  violations: z.array(violation),
  signatures: z.array(signature),
  traceHash: z.string().optional(),
  perSeed: z.array(z.looseObject({ seed: z.number().int(), steps: z.number(), violations: z.number().int(), traceHash: z.string().optional(), variant: z.string().optional() })),
});

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ResultsInputError(`${file}: not readable JSON (${(e as Error).message})`);
  }
}

function issues(file: string, e: z.ZodError): string {
  return e.issues.slice(0, 5).map((i) => `${file}: field "${i.path.length ? i.path.join('.') : '(top level)'}": ${i.message}`).join('\n');
}

/** A results folder's summary.json; errors name the folder (missing), file and field. */
export function readSummary(dir: string): Summary {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ResultsInputError(`${dir}: no such results folder (give the folder a run prints, results/<run-id>/)`);
  const file = join(dir, 'summary.json');
  if (!existsSync(file)) throw new ResultsInputError(`${dir}: no summary.json (${file} does not exist; a results folder is the one a run prints, results/<run-id>/)`);
  const r = SummaryShape.safeParse(readJson(file));
  if (!r.success) throw new ResultsInputError(issues(file, r.error));
  return r.data as unknown as Summary;
}

/** The unit a summary's histograms are in: scheduler steps (sched) or ns (threads). */
export function unitOf(s: Summary): Unit {
  return s.engine === 'sched' ? 'steps' : 'ns';
}

const encoded = z.record(z.string(), z.string());
/** histograms.json's seedGroups (EncodedSeedGroups); absent in folders written before seed groups. */
const seedGroups = z.object({
  rule: z.string(),
  variants: z.number().int().min(1),
  groups: z.array(z.object({ seeds: z.number().int().min(0), ops: counts, events: counts, h: encoded })),
});

/** A results folder's histograms.json (the addable histograms, and the seed groups if it has them), checked against its summary's unit. */
export function readHistograms(dir: string, s: Summary): EncodedHists & { seedGroups?: EncodedSeedGroups } {
  const file = join(dir, HISTOGRAMS_FILE);
  if (!existsSync(file)) throw new ResultsInputError(`${dir}: no ${HISTOGRAMS_FILE} (the addable histograms; the .hgrm percentiles cannot be added, so a folder written before ${HISTOGRAMS_FILE} existed cannot be merged)`);
  const r = z.object({ unit: z.enum(['steps', 'ns']), h: encoded, seedGroups: seedGroups.optional() }).safeParse(readJson(file));
  if (!r.success) throw new ResultsInputError(issues(file, r.error));
  if (r.data.unit !== unitOf(s)) throw new ResultsInputError(`${file}: field "unit": "${r.data.unit}", but summary.json says engine ${s.engine} (unit ${unitOf(s)})`);
  return r.data;
}

/** Every DIR/*.hgrm, by histogram name ("ptl.wait.hgrm" -> "ptl.wait"). */
export function readHgrms(dir: string): Map<string, Hgrm> {
  const out = new Map<string, Hgrm>();
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.hgrm')).sort()) {
    const name = f.slice(0, -'.hgrm'.length);
    out.set(name, parseHgrm(name, readFileSync(join(dir, f), 'utf8')));
  }
  return out;
}
