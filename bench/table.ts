// The bench's printed table and its list of targets (met or missed), from a BenchResult.
import type { BenchResult } from './bench.js';
import { PATH_TARGET, type PathFigure } from './measure-paths.js';
import { SCHED_TARGET } from './sched-steps.js';

export interface TargetCheck {
  figure: string;
  value: number;
  /** "<= 3" or ">= 1.7" */
  target: string;
  met: boolean;
}

export function targetsOf(r: Omit<BenchResult, 'targets'>): TargetCheck[] {
  const out: TargetCheck[] = [];
  for (const p of r.paths ?? []) out.push({ figure: `path ${p.id} (${p.code}) / floor`, value: p.ratio, target: `<= ${PATH_TARGET}`, met: p.ratio <= PATH_TARGET });
  if (r.sched) out.push({ figure: 'sched step / bare yield', value: r.sched.ratio, target: `<= ${SCHED_TARGET}`, met: r.sched.ratio <= SCHED_TARGET });
  for (const s of r.scaling ?? []) out.push({ figure: `${s.engine} 2 workers / 1 worker`, value: s.ratio, target: `>= ${s.target}`, met: s.ratio >= s.target });
  if (r.memory) {
    // linear growth: a straight line through (pages, peak RSS) explains it (R^2 near 1)
    const f = r.memory.rssFit;
    out.push({ figure: 'peak RSS linear in pages (R^2)', value: f.r2, target: '>= 0.99', met: f.r2 >= 0.99 });
  }
  return out;
}

const int = (n: number) => Math.round(n).toLocaleString('en');
const num = (n: number, d = 2) => (Math.abs(n) >= 1000 ? int(n) : n.toFixed(d));
const mb = (b: number) => `${(b / 1048576).toFixed(1)} MB`;
const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));
const lpad = (s: string, n: number) => (s.length >= n ? s : ' '.repeat(n - s.length) + s);
const verdict = (met: boolean) => (met ? 'met' : 'MISSED');

export function renderBench(r: BenchResult): string {
  const L: string[] = [];
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
  L.push(`foliostorm bench ${r.runId}: node ${r.node}, ${r.cores} cores, load ${load(r.loadStart)} at start, ${load(r.loadEnd)} at end, ${r.wallSeconds.toFixed(0)} s`);
  if (r.paths) {
    L.push('');
    L.push('1. kernel paths, threads-engine code, one CPU, uncontended: ns per call (best batch) and its ratio to the floor,');
    L.push('   the same Atomics operations on the same words with no model logic (alternating, best of each); target <= 3x.');
    L.push('   generators: what threads CPUs run by default; stripped: the threads build (config threadsCode "stripped")');
    L.push(`   ${pad('path', 42)}${pad('entry', 18)}${lpad('atomics', 8)}${lpad('floor', 8)}   ${pad('generators', 22)}${pad('stripped', 22)}`);
    const ids = [...new Set(r.paths.map((p) => p.id))];
    for (const id of ids) {
      const g = r.paths.find((p) => p.id === id && p.code === 'generators');
      const st = r.paths.find((p) => p.id === id && p.code === 'stripped');
      const any = (g ?? st)!;
      const cell = (p: PathFigure | undefined) => (p ? `${lpad(int(p.nsPerCall), 7)} ${lpad(p.ratio.toFixed(2) + 'x', 6)} ${pad(verdict(p.ratio <= PATH_TARGET), 7)}` : pad('   (not built)', 22));
      L.push(`   ${pad(any.label, 42)}${pad(any.entry, 18)}${lpad(num(any.atomicsPerCall, 0), 8)}${lpad(int(any.floorNsPerCall), 8)}   ${cell(g)} ${cell(st)}`);
    }
  }
  if (r.sched) {
    const s = r.sched;
    L.push('');
    L.push(`2. sched engine: one worker, ${s.config} seed ${s.seed} (${int(s.steps)} steps, ${int(s.ops)} ops per run; best of ${s.reps})`);
    L.push(`   ${int(s.stepsPerSecond)} steps/s per worker = ${num(s.nsPerStep)} ns/step; bare generator loop, depth ${s.depth} (model's mean ${s.meanDepth.toFixed(2)}): ${num(s.bareNsPerYield)} ns/yield`);
    L.push(`   ratio ${s.ratio.toFixed(2)}x   target <= ${SCHED_TARGET}x ${verdict(s.ratio <= SCHED_TARGET)}`);
  }
  if (r.scaling) {
    L.push('');
    L.push('3. scaling, 1 -> 2 workers (runs alternate; best steady rate of each, after the first 40% of a run)');
    for (const s of r.scaling) {
      L.push(`   ${pad(`${s.engine} ${s.unit}`, 14)}${pad(s.config, 36)} 1 worker ${lpad(num(s.one), 8)}   2 workers ${lpad(num(s.two), 8)}   ${s.ratio.toFixed(2)}x  target >= ${s.target}x ${verdict(s.ratio >= s.target)}`);
      L.push(`   ${' '.repeat(14)}machine just before: a pure arithmetic loop scaled ${s.machine.ratio.toFixed(2)}x from 1 to 2 threads (the ceiling for the line above)`);
    }
  }
  if (r.memory) {
    const m = r.memory;
    L.push('');
    L.push(`4. memory per modelled page (peak RSS of a child process running one sched seed; base: ${mb(m.baseMaxRssBytes)} for a child that builds nothing)`);
    L.push(`   ${lpad('pages', 9)}${lpad('SAB', 11)}${lpad('SAB B/page', 12)}${lpad('peak RSS', 11)}${lpad('over base', 11)}${lpad('B/page', 8)}`);
    for (const x of m.rows) L.push(`   ${lpad(`${x.pages / 1024}K`, 9)}${lpad(mb(x.sabBytes), 11)}${lpad(x.sabBytesPerPage.toFixed(1), 12)}${lpad(mb(x.maxRssBytes), 11)}${lpad(mb(x.rssOverBaseBytes), 11)}${lpad(x.rssBytesPerPage.toFixed(1), 8)}`);
    L.push(`   fit: SAB = ${m.sabFit.slope.toFixed(1)} B/page + ${mb(m.sabFit.intercept)} (R^2 ${m.sabFit.r2.toFixed(4)}); peak RSS = ${m.rssFit.slope.toFixed(1)} B/page + ${mb(m.rssFit.intercept)} (R^2 ${m.rssFit.r2.toFixed(4)})`);
  }
  L.push('');
  const missed = r.targets.filter((t) => !t.met);
  L.push(`targets: ${r.targets.length - missed.length} of ${r.targets.length} met${missed.length ? `; missed: ${missed.map((t) => `${t.figure} ${num(t.value)} (${t.target})`).join(', ')}` : ''}`);
  return L.join('\n');
}
