// Seeded random programs: each CPU's operation stream is a pure function of (root seed, cpu), so
// the same seed gives the same program in both engines. Concrete addresses are resolved when an
// op runs, from the mm's VMAs at that moment.
import { rng } from '../machine/rng.js';
import { OP_KINDS, type OpKind } from '../machine/ops.js';
import type { Config } from '../config/config.js';


export { OP_KINDS, type OpKind, rng };

export interface Op {
  kind: OpKind;
  proc: number;
  write: boolean;
  r1: number;
  r2: number;
  r3: number;
}

export class Program {
  private readonly rand: () => number;
  private readonly cum: number[];
  private readonly total: number;
  private n = 0;
  constructor(private readonly cfg: Config, seed: number, readonly cpu: number) {
    this.rand = rng(seed, `cpu${cpu}/ops`);
    let acc = 0;
    this.cum = OP_KINDS.map((k) => (acc += cfg.weights[k] ?? 0)); // an optional weight absent: 0
    this.total = acc;
  }
  private u32(): number {
    return (this.rand() * 0x100000000) >>> 0;
  }
  /**
   * The next op, or null when this CPU's budget (opsPerCpu) is spent; with overrun, the stream goes
   * on past the budget (a threads CPU whose budget is spent runs on until every CPU's is).
   */
  next(overrun = false): Op | null {
    if (this.n >= this.cfg.opsPerCpu && !overrun) return null;
    this.n++;
    const x = this.rand() * this.total;
    let k = 0;
    while (k < OP_KINDS.length - 1 && x >= this.cum[k]) k++;
    // drawn even under processPerCpu, so the rest of the op is the same draw either way
    const proc = Math.floor(this.rand() * this.cfg.processes);
    return {
      kind: OP_KINDS[k],
      proc: this.cfg.processPerCpu ? this.cpu % this.cfg.processes : proc,
      write: this.rand() < this.cfg.writeRatio,
      r1: this.u32(),
      r2: this.u32(),
      r3: this.u32(),
    };
  }
}

/** The first n ops of CPU cpu's seeded stream, past its budget if n is larger (a threads CPU can run on past it). */
export function programPrefix(cfg: Config, seed: number, cpu: number, n: number): Op[] {
  const prog = new Program(cfg, seed, cpu);
  return Array.from({ length: n }, () => prog.next(true)!);
}
