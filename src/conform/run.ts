// `conform`: each scenario file runs on a real kernel (in qemu, through the executor) and on the
// model; their observations are compared step by step, page by page (issue 16). One boot runs a
// batch of files; boots run side by side, one per core.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseScenario, type Scenario, ScenarioFormatError } from '../scenario/format.js';
import { compileScenario, needsExt4, runnable } from './compile.js';
import { compareScenario, type Difference, formatDifference, type KnownDifference } from './compare.js';
import { observeModel, parseConsole, profileOf, type ScenarioObs } from './observe.js';
import { boot, type BootResult, ext4Extras, initramfs, locate } from './vm.js';

export type FileStatus = 'agree' | 'differ' | 'skipped' | 'model-failed' | 'vm-failed';
export interface FileResult {
  file: string;
  name: string;
  status: FileStatus;
  /** skipped: why the kernel cannot run it; model-failed / vm-failed: what happened */
  reason?: string;
  differences: Difference[];
  /** steps and page observations compared */
  steps: number;
  observations: number;
  /** the executor's time for the scenario */
  ms?: number;
  boot?: number;
}
export interface BootInfo {
  index: number;
  files: string[];
  seconds: number;
  outcome: BootResult['outcome'];
  reason?: string;
  uname?: string;
  consoleTail?: string;
  consoleFile?: string;
  /** error lines of the executor outside any scenario (then no observation of the boot is trusted) */
  errors?: string[];
  /** what the kernel lacks that the executor needs (a user's --kernel): exit 2, named */
  missing?: string[];
}
export interface ConformReport {
  exitCode: number;
  results: FileResult[];
  boots: BootInfo[];
  known: number;
}
export interface ConformOptions {
  files: readonly string[];
  root: string;
  kernel?: string;
  /** the executor binary (default vm/out/executor; tests give a broken one) */
  executor?: string;
  out?: string;
  /** files per boot at most (default: spread over the cores, at most 40 per boot) */
  perBoot?: number;
  timeoutMs?: number;
  known?: readonly KnownDifference[];
  /** tests: change the model's observations before they are compared */
  tamper?: (file: string, obs: ScenarioObs) => void;
  inject?: readonly string[];
  progress?: (line: string) => void;
}

/** A file conform cannot take (unreadable, malformed): exit 2. */
export class ConformInputError extends Error {}

/** The known differences file (configs/conformance/known-differences.json): a list of entries, each with file, field, reason, reference. */
export function readKnown(path: string): KnownDifference[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ConformInputError(`${path}: ${(e as Error).message}`);
  }
  const list = (raw as { differences?: unknown }).differences;
  if (!Array.isArray(list)) throw new ConformInputError(`${path}: expected {"differences": [...]}`);
  return list.map((e, i) => {
    const o = e as Record<string, unknown>;
    for (const k of ['file', 'field', 'reason', 'reference']) if (typeof o[k] !== 'string' || !o[k]) throw new ConformInputError(`${path}: differences[${i}]: field "${k}": expected a non-empty string`);
    return o as unknown as KnownDifference;
  });
}

export async function conform(o: ConformOptions): Promise<ConformReport> {
  const log = o.progress ?? (() => {});
  const scenarios: Scenario[] = o.files.map((f) => {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch (e) {
      throw new ConformInputError(`${f}: cannot read: ${(e as Error).message}`);
    }
    try {
      return parseScenario(text, f);
    } catch (e) {
      if (e instanceof ScenarioFormatError) throw new ConformInputError(e.message);
      throw e;
    }
  });
  const env = locate(o.root, o.kernel, o.executor); // MissingPrerequisite: exit 2 with the setup command
  const executor = readFileSync(env.executor);
  const results: FileResult[] = [];
  const todo: { sc: Scenario; res: FileResult }[] = [];
  for (const sc of scenarios) {
    const res: FileResult = { file: sc.file, name: sc.name, status: 'agree', differences: [], steps: 0, observations: 0 };
    results.push(res);
    const bad = runnable(sc);
    if (bad) {
      res.status = 'skipped';
      res.reason = `step ${bad.step}: ${bad.reason}`;
      continue;
    }
    todo.push({ sc, res });
  }
  // batches: one per core (at least), at most perBoot files each
  const cores = Math.max(1, availableParallelism());
  const perBoot = o.perBoot ?? Math.min(40, Math.max(1, Math.ceil(todo.length / cores)));
  const batches: (typeof todo)[] = [];
  for (let i = 0; i < todo.length; i += perBoot) batches.push(todo.slice(i, i + perBoot));
  // write-notify files live on ext4 over a loop device: the image (and the loop module) go into the initramfs of the boots that map them
  const ext4 = todo.some((t) => needsExt4(t.sc)) ? ext4Extras(env.kernel) : undefined;
  const work = o.out ?? mkdtempSync(join(tmpdir(), 'foliostorm-conform-'));
  mkdirSync(work, { recursive: true });
  const boots: BootInfo[] = [];
  let next = 0;
  const runBatch = async (bi: number): Promise<void> => {
    const batch = batches[bi];
    const lines = batch.flatMap((t, sid) => compileScenario(t.sc, sid));
    const steps = lines.join('\n') + '\n';
    const initrd = join(work, `boot-${bi}.cpio.gz`);
    writeFileSync(join(work, `boot-${bi}.steps.txt`), steps);
    writeFileSync(initrd, initramfs(executor, steps, batch.some((t) => needsExt4(t.sc)) ? ext4 : undefined));
    const timeout = o.timeoutMs ?? 30_000 + 5_000 * batch.length;
    const r = await boot(env.qemu, env.kernel, initrd, timeout);
    const consoleFile = join(work, `boot-${bi}.console.txt`);
    writeFileSync(consoleFile, r.console);
    const parsed = parseConsole(r.console);
    const info: BootInfo = { index: bi, files: batch.map((t) => t.sc.file), seconds: r.seconds, outcome: r.outcome, reason: r.reason, uname: parsed.boot?.uname, consoleFile };
    if (r.outcome !== 'ok') info.consoleTail = r.console.split(/\r?\n/).slice(-25).join('\n');
    if (parsed.errors.length) info.errors = parsed.errors;
    if (parsed.missing.length) info.missing = parsed.missing;
    boots.push(info);
    log(`boot ${bi + 1}/${batches.length}: ${batch.length} file(s), ${r.seconds.toFixed(1)} s, ${r.outcome}${r.reason ? `: ${r.reason}` : ''}`);
    batch.forEach((t, sid) => {
      t.res.boot = bi;
      const k = parsed.scenarios.get(sid);
      if (!k || (r.outcome !== 'ok' && k.ms === undefined)) {
        t.res.status = 'vm-failed';
        t.res.reason = r.outcome !== 'ok' ? `the VM ${r.outcome === 'timeout' ? 'timed out' : 'failed'}: ${r.reason}` : 'the executor reported nothing for it';
        return;
      }
      if (k.error || info.errors) {
        // the executor could not run it as written, or its own checks failed in this boot
        t.res.status = 'vm-failed';
        t.res.reason = k.error ?? `the executor reported: ${info.errors![0]}`;
        return;
      }
      t.res.ms = k.ms;
      // the model runs in the profile of the kernel that booted (its `uname -r`)
      const { result, obs } = observeModel(t.sc, o.inject ?? [], profileOf(parsed.boot?.uname));
      if (result.status !== 'pass') {
        t.res.status = 'model-failed';
        t.res.reason = result.message;
        return;
      }
      o.tamper?.(t.sc.file, obs);
      t.res.differences = compareScenario(t.sc, obs, k, o.known ?? []);
      t.res.steps = obs.steps.length;
      t.res.observations = obs.steps.reduce((n, s) => n + s.pages.length + s.rss.length + (s.values?.length ?? 0), 0);
      t.res.status = t.res.differences.some((d) => !d.known) ? 'differ' : 'agree';
    });
  };
  const lanes = Array.from({ length: Math.min(cores, batches.length) }, async () => {
    while (next < batches.length) await runBatch(next++);
  });
  await Promise.all(lanes);
  boots.sort((a, b) => a.index - b.index);
  const vmFailed = results.some((r) => r.status === 'vm-failed');
  const differs = results.some((r) => r.status === 'differ' || r.status === 'model-failed');
  const known = results.reduce((n, r) => n + r.differences.filter((d) => d.known).length, 0);
  // a kernel without what the executor needs is bad input (2): its observations are not the model's to match
  const lacks = boots.some((b) => b.missing?.length);
  return { exitCode: lacks ? 2 : vmFailed ? 3 : differs ? 1 : 0, results, boots, known };
}

/** The default known-differences file of the project, if the files come with none. */
export const knownPath = (root: string): string => join(root, 'configs', 'conformance', 'known-differences.json');

/** One line per file, then the boots, as the CLI prints them. */
export function formatReport(r: ConformReport): string[] {
  const out: string[] = [];
  for (const f of r.results) {
    const name = basename(f.file);
    if (f.status === 'agree') out.push(`AGREE ${name}: ${f.steps} steps, ${f.observations} observations${f.differences.length ? `, ${f.differences.length} known difference(s)` : ''}${f.ms !== undefined ? ` (${f.ms} ms in the VM)` : ''}`);
    else if (f.status === 'skipped') out.push(`SKIP  ${name}: model only: ${f.reason}`);
    else if (f.status === 'model-failed') out.push(`FAIL  ${name}: the model fails the scenario: ${f.reason}`);
    else if (f.status === 'vm-failed') out.push(`ERROR ${name}: ${f.reason}`);
    else {
      const unknown = f.differences.filter((d) => !d.known);
      out.push(`DIFF  ${name}: ${unknown.length} difference(s)`);
      for (const d of unknown.slice(0, 10)) out.push(`      ${formatDiff(d)}`);
      if (unknown.length > 10) out.push(`      ... ${unknown.length - 10} more (--json lists all)`);
    }
  }
  const lacks = [...new Set(r.boots.flatMap((b) => b.missing ?? []))];
  if (lacks.length) out.push(`KERNEL lacks what the executor needs: ${lacks.join('; ')}`);
  for (const b of r.boots) {
    for (const e of b.errors ?? []) out.push(`BOOT ${b.index}: ${e}`);
    if (b.outcome === 'ok') continue;
    out.push(`BOOT ${b.index} ${b.outcome}: ${b.reason} (console: ${b.consoleFile})`);
    if (b.consoleTail) out.push(...b.consoleTail.split('\n').map((l) => `  | ${l}`));
  }
  const n = (s: FileStatus): number => r.results.filter((x) => x.status === s).length;
  const secs = r.boots.reduce((a, b) => a + b.seconds, 0);
  const ran = n('agree') + n('differ');
  out.push(`conform: ${n('agree')} agree, ${n('differ')} differ, ${n('model-failed')} model failures, ${n('vm-failed')} not run by the VM, ${n('skipped')} model-only; ${r.known} known difference(s); ${r.boots.length} boot(s), ${secs.toFixed(1)} s of VM time${ran ? `, ${(ran / Math.max(secs, 0.001)).toFixed(1)} files per VM second` : ''}${r.boots[0]?.uname ? `; kernel ${r.boots[0].uname}` : ''}`);
  return out;
}

const formatDiff = (d: Difference): string => formatDifference(d, false);

/** KTAP, as the kernel's selftests print it: one test per file. */
export function formatTap(r: ConformReport): string[] {
  const out = ['TAP version 13', `1..${r.results.length}`];
  r.results.forEach((f, i) => {
    const name = basename(f.file).replace(/\.json$/, '');
    if (f.status === 'skipped') out.push(`ok ${i + 1} ${name} # SKIP ${f.reason}`);
    else if (f.status === 'agree') out.push(`ok ${i + 1} ${name}`);
    else {
      out.push(`not ok ${i + 1} ${name}`);
      if (f.reason) out.push(`# ${f.reason}`);
      for (const d of f.differences.filter((x) => !x.known).slice(0, 20)) out.push(`# ${formatDiff(d)}`);
    }
  });
  return out;
}
