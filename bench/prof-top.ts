// Top self-time functions of a V8 CPU profile (node --cpu-prof): the evidence behind a bench figure.
// Usage: node dist/bench/prof-top.js FILE.cpuprofile [N]
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time per function (name, file:line), largest first, as shares of all samples. */
export function topSelf(p: Profile, n = 25): { fn: string; where: string; selfPct: number; selfMs: number }[] {
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const self = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const node = byId.get(p.samples[i])!;
    const dt = p.timeDeltas[i] ?? 0;
    const f = node.callFrame;
    const key = `${f.functionName || '(anonymous)'}\t${f.url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  }
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => {
      const [fn, where] = k.split('\t');
      return { fn, where, selfPct: (100 * v) / total, selfMs: v / 1000 };
    });
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, '/'))) {
  const p = JSON.parse(readFileSync(process.argv[2], 'utf8')) as Profile;
  for (const r of topSelf(p, Number(process.argv[3] ?? 25))) console.log(`${r.selfPct.toFixed(1).padStart(5)}%  ${r.selfMs.toFixed(0).padStart(6)} ms  ${r.fn}  ${r.where}`);
}
