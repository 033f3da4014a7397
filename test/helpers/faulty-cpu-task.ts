// A threads-engine piscina task that misbehaves on purpose, for the worker hang and crash tests
// only: in round (seed) 2, CPU 1 passes the start barrier, records one event and spins forever; in
// round 4, CPU 0 throws an error that is not a Violation. Every other CPU and round runs as
// workers/cpu-task.ts runs it.
import { Cpu } from '../../src/machine/cpu.js';
import { EV } from '../../src/machine/events.js';
import cpuTask, { startBarrier } from '../../workers/cpu-task.js';
import { type CpuTask, type CpuTaskResult, markStarted } from '../../src/engine/threads-task.js';
import { buildMachine } from '../../src/check/machine.js';

export const HANG_ROUND = 2, CRASH_ROUND = 4;

export default function faultyCpuTask(task: CpuTask): CpuTaskResult {
  if (task.seed === HANG_ROUND && task.cpu === 1) {
    markStarted(task);
    const machine = buildMachine(task.cfg, task.sab);
    startBarrier(machine);
    new Cpu(machine, task.cpu, true, { step: 0 }, task.cfg).ev(EV.OP_START, 0, 0);
    for (;;);
  }
  if (task.seed === CRASH_ROUND && task.cpu === 0) throw new RangeError('deliberate crash in the test task');
  return cpuTask(task);
}
