// Runs a scripted scenario on a fresh machine with one simulated CPU: each step runs to completion
// in the sched engine's loop (the refcount observer, lock-hang and step-limit detectors apply),
// then the quiescent checker runs. At the end every process exits, leftover pins are released,
// and nothing may leak. The result names the file, the step and the invariant that failed.
import { readFileSync } from 'node:fs';
import type { Config } from '../config/config.js';
import { mem_init } from '../linux/mm/page_alloc.js';
import { Cpu, type Clock, Violation } from '../machine/cpu.js';
import type { Gen } from '../machine/gen.js';
import { SchedLoop, final_sync } from '../engine/sched.js';
import { makeScheduler, type Scheduler, ScheduleRecorder } from '../engine/scheduler.js';
import { rng } from '../workload/program.js';
import { checkNoLeaks, checkQuiescent, type Finding } from '../check/invariants.js';
import { type ConcurrentStep, type ExitStep, type PinIdStep, parseScenario, type Scenario, ScenarioFormatError, type Step } from './format.js';
import { Exec, OPS, opKey, opLabel, type Registry, StepFailure, Unsupported } from './ops.js';
import { buildMachine } from '../check/machine.js';

export type ScenarioStatus = 'pass' | 'fail' | 'malformed' | 'unsupported';
export const SCENARIO_EXIT: Record<ScenarioStatus, number> = { pass: 0, fail: 1, malformed: 2, unsupported: 2 };

export interface ScenarioResult {
  file: string;
  name: string;
  status: ScenarioStatus;
  exitCode: number;
  /** One line: `FILE: step 3 (op "write"): ...` (malformed: one line per problem the schema found; step, op and field are the first's). */
  message: string;
  /** Index in `steps` (0-based) of the failing step; steps.length for the final teardown. */
  step?: number;
  op?: string;
  /** malformed: the offending field. */
  field?: string;
  /** fail: the invariant (or `expect`, `unexpected-fault`, ...) that failed. */
  invariant?: string;
  details?: Record<string, unknown>;
  /** Steps completed. */
  stepsRun: number;
  /** A scenario with concurrent blocks: the CPU picked at every scheduler step of its blocks, run-length encoded (ScheduleRecorder). */
  schedule?: number[];
}

export interface ScenarioOptions {
  /** Deviations to switch on in addition to the file's config.inject (names already validated). */
  inject?: readonly string[];
  /** Replace registry entries (tests, or a kernel op not registered yet). */
  ops?: Partial<Registry>;
  /** Called after each step that passed (its quiescent check included): conform records the model's observations here. */
  afterStep?: (step: Step, x: Exec) => void;
  /**
   * Picks the CPU at every yield of a concurrent block (all blocks of the run in turn; start() is
   * called once, before the first step). Default: the random scheduler with the file's seed.
   */
  scheduler?: Scheduler;
  /** Told as each concurrent block begins (the scenario's step index, its CPU lists), before its first pick. */
  onBlock?: (index: number, ncpus: number) => void;
  /** Told as each concurrent block ends (all its lists done, or a failure). */
  onBlockEnd?: () => void;
  /** Told once the Exec exists, before the first step (explore keeps its reads and writers). */
  onStart?: (x: Exec) => void;
  /** Called once every step has passed, before teardown (the last moment the processes' state can be read). */
  beforeTeardown?: (x: Exec) => void;
}

/** Read, parse and run one scenario file. Never throws for a problem of the file itself. */
export function runScenarioFile(file: string, opts: ScenarioOptions = {}): ScenarioResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { file, name: file, status: 'malformed', exitCode: 2, message: `${file}: cannot read: ${(e as Error).message}`, stepsRun: 0 };
  }
  let sc: Scenario;
  try {
    sc = parseScenario(text, file);
  } catch (e) {
    if (!(e instanceof ScenarioFormatError)) throw e;
    return { file, name: file, status: 'malformed', exitCode: 2, message: e.message, step: e.step, op: e.op, field: e.field, stepsRun: 0 };
  }
  return runScenario(sc, opts);
}

/** The ops of a scenario the model cannot run yet (empty when it can run). */
export function unsupportedSteps(sc: Scenario, ops: Registry = OPS): { step: Exclude<Step, ConcurrentStep>; reason: string }[] {
  const out: { step: Exclude<Step, ConcurrentStep>; reason: string }[] = [];
  for (const step of sc.steps.flatMap((s) => (s.op === 'concurrent' ? s.cpus.flat() : [s]))) {
    const impl = ops[opKey(step)];
    if (impl instanceof Unsupported) out.push({ step, reason: impl.reason });
  }
  return out;
}

export function runScenario(sc: Scenario, opts: ScenarioOptions = {}): ScenarioResult {
  const ops: Registry = { ...OPS, ...opts.ops };
  const base = { file: sc.file, name: sc.name };
  const missing = unsupportedSteps(sc, ops);
  if (missing.length) {
    const { step, reason } = missing[0];
    const more = missing.length > 1 ? ` (also ${[...new Set(missing.slice(1).map((u) => opLabel(u.step)))].join(', ')})` : '';
    return { ...base, status: 'unsupported', exitCode: 2, step: step.index, op: step.op, message: `${sc.file}: step ${step.index}: ${opLabel(step)} is not supported yet: ${reason}${more}`, stepsRun: 0 };
  }

  const cfg: Config = { ...sc.config, inject: [...sc.config.inject, ...(opts.inject ?? [])] };
  const machine = buildMachine(cfg);
  // a file is a disk file when some shared mapping of it asks for write notification, as the
  // executor decides where it lives (ext4 or tmpfs): reclaim and the contracts ask the file's kind
  const disk = Array.from({ length: cfg.files.count }, () => false);
  for (const s of sc.steps.flatMap((t) => (t.op === 'concurrent' ? t.cpus.flat() : [t]))) {
    if (s.op === 'mmap' && s.kind === 'file' && s.shared && s.writenotify && s.fileIndex !== undefined) disk[s.fileIndex] = true;
  }
  machine.fileKinds = disk;
  mem_init(machine, rng(cfg.seed, 'boot'));
  const clock: Clock = { step: 0 };
  // CPU 0 runs the steps outside concurrent blocks; a block's list i runs on CPU i
  const cpus = Array.from({ length: cfg.cpus }, (_, i) => new Cpu(machine, i, false, clock, cfg));
  const cpu = cpus[0];
  const sched = makeScheduler(cfg.scheduler, cfg.seed, { pctDepth: cfg.pctDepth, pctSteps: cfg.pctSteps || 1 }) // one CPU: any strategy runs it alone;
  const x = new Exec(machine, cpu);
  // concurrent blocks: the given scheduler, or the random one seeded by the file's seed; every pick recorded
  const blockSched = opts.scheduler ?? makeScheduler('random', cfg.seed);
  blockSched.start(cfg.cpus);
  const rec = new ScheduleRecorder();
  const hasBlocks = sc.steps.some((s) => s.op === 'concurrent');
  const recorded = (): Scheduler => ({
    name: blockSched.name,
    start: () => {},
    pick: (runnable, step) => {
      const c = blockSched.pick(runnable, step);
      rec.push(c);
      return c;
    },
    random: () => blockSched.random(),
    yielded: (c, point) => blockSched.yielded?.(c, point),
  });

  /**
   * Run a concurrent block: one kernel-path generator per CPU list (its steps in order on that CPU,
   * through the Exec view of that CPU), driven by the sched engine's loop so the lists interleave at
   * the kernel's yield points (the refcount observer, the contract hooks and the hang detectors
   * apply at every step, as in a run). A step's failure names its CPU and place in the block.
   */
  const runBlock = (block: ConcurrentStep): Violation | StepFailure | null => {
    const n = block.cpus.length;
    const lists = block.cpus.map((list, c) => {
      const view = x.onCpu(cpus[c]);
      return function* (): Gen<void> {
        for (const inner of list) {
          const exec = ops[opKey(inner)] as Exclude<Registry[keyof Registry], Unsupported>;
          cpus[c].curOp = `scenario step ${block.index} (concurrent) cpu ${c} step ${inner.pos} (${inner.op})`;
          current[c] = inner;
          try {
            yield* exec(view, inner);
          } catch (e) {
            if (e instanceof StepFailure) throw new StepFailure(e.invariant, `cpu ${c} step ${inner.pos} (op "${inner.op}"): ${e.message}`, { ...e.details, cpu: c, pos: inner.pos });
            throw e;
          }
        }
      };
    });
    const current: (Step | null)[] = new Array(n).fill(null);
    const given = new Array(n).fill(false);
    const sources = lists.map((g, c) => () => (given[c] ? null : ((given[c] = true), g())));
    opts.onBlock?.(block.index, n);
    const loop = new SchedLoop(machine, cpus.slice(0, n), sources, recorded(), clock, null, false);
    try {
      loop.run();
      opts.onBlockEnd?.();
      return null;
    } catch (e) {
      opts.onBlockEnd?.();
      if (e instanceof Violation) {
        const at = e.cpu >= 0 && e.cpu < n ? current[e.cpu] : null;
        if (at && at.op !== 'concurrent' && 'pos' in at) return new Violation(e.invariant, e.path, { ...e.details, cpu: e.cpu, pos: at.pos, stepOp: at.op }, e.cpu);
        return e;
      }
      if (e instanceof StepFailure) return e;
      throw e;
    }
  };

  /** Run one kernel-path generator to completion on the scenario's CPU; returns the failure, if any. */
  const runGen = (g: Gen<void>): Violation | StepFailure | null => {
    let given = false;
    const loop = new SchedLoop(machine, [cpu], [() => (given ? null : ((given = true), g))], sched, clock, null, false);
    try {
      loop.run();
      return null;
    } catch (e) {
      if (e instanceof Violation || e instanceof StepFailure) return e;
      throw e;
    }
  };
  const where = (i: number, op: string) => (op === 'teardown' ? `${sc.file}: teardown (after the last step, every process exits)` : `${sc.file}: step ${i} (op "${op}")`);
  const failed = (i: number, op: string, e: Violation | StepFailure): ScenarioResult => {
    if (e instanceof StepFailure) return { ...base, status: 'fail', exitCode: 1, step: i, op, invariant: e.invariant, details: e.details, message: `${where(i, op)}: ${e.message}`, stepsRun: i };
    return { ...base, status: 'fail', exitCode: 1, step: i, op, invariant: e.invariant, details: e.details, message: `${where(i, op)}: invariant ${e.invariant} in ${e.path}: ${JSON.stringify(e.details)}`, stepsRun: i };
  };
  const findings = (i: number, op: string, found: Finding[]): ScenarioResult => {
    const f = found[0];
    const others = [...new Set(found.slice(1).map((g) => g.invariant))];
    const more = others.length ? ` (${found.length} findings; also ${others.join(', ')})` : '';
    return { ...base, status: 'fail', exitCode: 1, step: i, op, invariant: f.invariant, details: f.details, message: `${where(i, op)}: invariant ${f.invariant} (${f.path} check after the step): ${JSON.stringify(f.details)}${more}`, stepsRun: i };
  };

  opts.onStart?.(x);
  const withSchedule = <R extends ScenarioResult>(r: R): R => (hasBlocks ? { ...r, schedule: rec.encode() } : r);
  for (const step of sc.steps) {
    let err: Violation | StepFailure | null;
    cpu.curOp = `scenario step ${step.index} (${step.op})`;
    try {
      if (step.op === 'concurrent') err = runBlock(step);
      else err = runGen((ops[opKey(step)] as Exclude<Registry[keyof Registry], Unsupported>)(x, step));
    } catch (e) {
      // a kernel path threw something other than a Violation: report it against the step
      return { ...base, status: 'fail', exitCode: 1, step: step.index, op: step.op, invariant: 'internal-error', message: `${where(step.index, step.op)}: internal error: ${(e as Error).stack ?? e}`, stepsRun: step.index };
    }
    if (err) return withSchedule(failed(step.index, step.op, err));
    const found = checkQuiescent(machine);
    if (found.length) return withSchedule(findings(step.index, step.op, found));
    opts.afterStep?.(step, x);
  }
  opts.beforeTeardown?.(x);

  // teardown: every live process exits, then the pins still held are released (a pin outlives its mm)
  const end = sc.steps.length;
  cpu.curOp = 'scenario teardown';
  const exitOp = ops.exit as Exclude<Registry['exit'], Unsupported>;
  for (const proc of [...x.procs.keys()]) {
    const err = runGen(exitOp(x, { op: 'exit', proc, index: end } satisfies ExitStep));
    if (err) return withSchedule(failed(end, 'teardown', err));
  }
  const unpinOp = ops.unpin;
  if (x.pins.size && !(unpinOp instanceof Unsupported)) {
    for (const id of [...x.pins.keys()]) {
      const err = runGen(unpinOp(x, { op: 'unpin', id, index: end } satisfies PinIdStep));
      if (err) return withSchedule(failed(end, 'teardown', err));
    }
  }
  // the final sync: every file written back, the disk checked (lost-write), the page cache truncated
  const sync: { lost: Finding | null } = { lost: null };
  const syncErr = runGen((function* () {
    sync.lost = yield* final_sync(cpu);
  })());
  if (syncErr) return withSchedule(failed(end, 'teardown', syncErr));
  if (sync.lost) return withSchedule(findings(end, 'teardown', [sync.lost]));
  const found = [...checkQuiescent(machine), ...checkNoLeaks(machine)];
  if (found.length) return withSchedule(findings(end, 'teardown', found));
  return withSchedule({ ...base, status: 'pass', exitCode: 0, message: `${sc.file}: ${sc.name} (${sc.steps.length} steps)`, stepsRun: sc.steps.length });
}

/** One line per result, as the CLI prints it (a malformed file: one ERROR line per problem). */
export function formatResult(r: ScenarioResult): string {
  const tag = r.status === 'pass' ? 'PASS' : r.status === 'fail' ? 'FAIL' : 'ERROR';
  if (r.status !== 'malformed') return `${tag} ${r.message}`;
  return r.message.split('\n').map((line) => `${tag} ${line}`).join('\n');
}
