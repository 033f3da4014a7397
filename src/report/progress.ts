// Progress on long runs: a rewritten line on a terminal, plain periodic lines otherwise (CI logs),
// nothing when quiet (--json).
import type { Config } from '../config.js';
import type { Aggregate } from './aggregate.js';

export class Progress {
  private readonly t0 = performance.now();
  private last = 0;
  private readonly tty = !!process.stderr.isTTY;
  private wrote = false;
  constructor(private readonly cfg: Config, private readonly quiet: boolean, private readonly log?: (s: string) => void) {}
  update(agg: Aggregate): void {
    if (this.quiet) return;
    const now = performance.now();
    if (now - this.last < (this.tty ? 250 : 5000)) return;
    this.last = now;
    const el = (now - this.t0) / 1000;
    const ops = Object.values(agg.ops).reduce((a, b) => a + b, 0);
    const vs = agg.violations.length;
    const rem = this.cfg.duration > 0 ? `  remaining ${Math.max(0, this.cfg.duration - el).toFixed(0)}s` : '';
    const line = `[foliostorm] ${el.toFixed(1)}s${rem}  seeds ${agg.results.length}  ops/s ${Math.round(ops / el)}  races ${agg.ev('anon.recheckPteChanged') + agg.sumOrders('anon.recheckRangeChanged')}  violations ${vs}`;
    if (this.log) this.log(line);
    else if (this.tty) {
      process.stderr.write(`\r${line}\x1b[K`);
      this.wrote = true;
    } else process.stderr.write(line + '\n');
  }
  done(): void {
    if (this.wrote) process.stderr.write('\n');
  }
}
