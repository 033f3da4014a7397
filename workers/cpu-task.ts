// Piscina task of the threads engine: one simulated CPU of one round. It wraps the shared machine,
// waits until every CPU of the round has started (so short rounds still overlap), then runs this
// CPU's op stream, a pure function of (seed, cpu), until every CPU's budget is spent (it runs on past
// its own until then) or the coordinator sets G.STOP.
import type { Config } from '../src/config/config.js';
import { Machine } from '../src/machine/machine.js';
import { G } from '../src/machine/layout.js';
import { allocFailStream, Cpu, type OpLog, signatureOf, Violation } from '../src/machine/cpu.js';
import { readRing } from '../src/diag/flight-recorder.js';
import { drive, setInterleaveSpins } from '../src/machine/gen.js';
import { Program } from '../src/workload/program.js';
import { run_op } from '../src/workload/run-op.js';
import { release_pins } from '../src/workload/pins.js';
import { Aborted } from '../src/linux/kernel/locking/spinlock.js';
import type { EncodedHists } from '../src/machine/histograms.js';
import type { ViolationRecord } from '../src/engine/result.js';
import { buildMachine } from '../src/check/machine.js';
import { type CpuTask, type CpuTaskResult, markStarted } from '../src/engine/threads-task.js';
import { checkCpuInstruments, CpuShadow } from '../src/check/instruments.js';

export type { CpuTask, CpuTaskResult };

export default function cpuTask(task: CpuTask): CpuTaskResult {
  markStarted(task);
  setInterleaveSpins(task.cfg.interleaveSpins ?? 0); // the stripped code's pause at former yields (gen.ts)
  const machine = buildMachine(task.cfg, task.sab);
  const cpu = new Cpu(machine, task.cpu, true, { step: 0 }, task.cfg);
  if (task.cfg.allocFailRate) cpu.allocFailRand = allocFailStream(task.seed, task.cpu);
  const prog = new Program(task.cfg, task.seed, task.cpu);
  const opLog: OpLog = { seqs: [], eventNos: [] };
  cpu.opLog = opLog; // two numbers per op: cheap next to the op, and what a replay needs
  // the instruments' own check at the end (src/check/instruments.ts): the event hook keeps a copy of the ring
  const shadow = new CpuShadow(machine.L.ringSize, null);
  cpu.evHook = shadow.hook;
  const g = machine.L.global;
  const m = machine.m;
  let opsStarted = 0;
  let violation: ViolationRecord | undefined;
  try {
    startBarrier(machine);
    let spent = false;
    while (!cpu.stopRequested()) {
      let op = prog.next();
      if (!op) {
        // This CPU's budget is spent. It runs on with its stream until every CPU's is: waiting idle
        // for the slowest would leave that one racing no one for the rest of the round (no overlap,
        // so no race, in the round's tail) while this core sat unused.
        if (!spent) {
          spent = true;
          Atomics.add(m, g + G.SPENT, 1);
        }
        if (Atomics.load(m, g + G.SPENT) >= machine.L.cpus) break;
        op = prog.next(true)!;
      }
      opsStarted++;
      shadow.kind = op.kind;
      drive(run_op(cpu, op));
    }
    // the program is over (or the round's time is up): its pins go too, before the quiescent check
    drive(release_pins(cpu));
    // this CPU is idle: its ring, op events and histograms must account for every event and op
    const bad = checkCpuInstruments(machine, cpu, shadow, opsStarted);
    if (bad.length) cpu.violation(bad[0].invariant, bad[0].path, bad[0].details);
  } catch (e) {
    if (e instanceof Aborted) {
      // another CPU (or the observer) found a violation and stopped the round: not ours to report
    } else if (e instanceof Violation) {
      // Stop everyone first (waiters abandon their lock waits), then snapshot the recorders.
      Atomics.store(m, g + G.STOP, 2);
      Atomics.add(m, g + G.VIOLATIONS, 1);
      violation = {
        invariant: e.invariant, path: e.path, signature: signatureOf(e.invariant, e.path, task.cfg.inject), details: { ...e.details, during: cpu.curOp },
        cpu: e.cpu, seed: task.seed, engine: 'threads', step: Atomics.load(m, g + G.SEQ),
        events: Array.from({ length: machine.L.cpus }, (_, c) => readRing(machine, c)),
      };
    } else {
      // A bug in the tool: release the other CPUs before failing the task.
      Atomics.store(m, g + G.STOP, 2);
      throw e;
    }
  }
  return { cpu: task.cpu, counters: cpu.counterMap(), hist: cpu.hist.encode(), opsStarted, opLog, completed: shadow.completed, violation };
}

/** Every CPU of the round checks in at G.READY; none starts its ops before all have arrived. */
export function startBarrier(machine: Machine): void {
  const m = machine.m;
  const w = machine.L.global + G.READY;
  const n = machine.L.cpus;
  const v = Atomics.add(m, w, 1) + 1;
  if (v >= n) {
    Atomics.notify(m, w);
    return;
  }
  for (;;) {
    const cur = Atomics.load(m, w);
    if (cur >= n || Atomics.load(m, machine.L.global + G.STOP) !== 0) return;
    Atomics.wait(m, w, cur, 50);
  }
}
