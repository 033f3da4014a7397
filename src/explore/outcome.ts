// The outcome of one explored schedule, as herd7 prints a litmus test's final state: what a user
// of the processes could observe once every step has run. Per process (by name), per page of every
// range a step mapped: not present, or which folio (numbered in order of first appearance, so two
// schedules that allocate different pfns but map the same sharing agree), its order and the page's
// index in it, writable and dirty, and the content (which step wrote it, by the step's place).
// Then what each access step of a concurrent block saw (`seen:`, by step as s<block>.c<cpu>.<pos>):
// the values its loads read, and for a mayFault step whether each page stored or raised SIGSEGV.
import { hex, tokenMm, tokenVersion, tokenVpn } from '../check/oracle.js';
import { POISON, ZERO_PFN } from '../machine/machine.js';
import { PAGE_SIZE, hexAddr, type Scenario, type Step } from '../scenario/format.js';
import { type Exec, pageState, SEGV_READ, STORE_DONE } from '../scenario/ops.js';

/** The byte ranges a scenario's steps map (every mmap, every mremap target), merged. */
export function observedPages(sc: Scenario): number[] {
  const vpns = new Set<number>();
  const add = (s: Step): void => {
    if (s.op === 'mmap') for (let a = s.addr; a < s.addr + s.len; a += PAGE_SIZE) vpns.add(a / PAGE_SIZE);
    if (s.op === 'mremap') for (let a = s.newAddr; a < s.newAddr + s.len; a += PAGE_SIZE) vpns.add(a / PAGE_SIZE);
    if (s.op === 'concurrent') for (const l of s.cpus) for (const i of l) add(i);
  };
  for (const s of sc.steps) add(s);
  return [...vpns].sort((a, b) => a - b);
}

/** `step 3 cpu 1.0` from a CPU's curOp (`scenario step 3 (concurrent) cpu 1 step 0 (write)`), or the curOp itself. */
function stepLabel(curOp: string): string {
  const m = /^scenario step (\d+) \((\w[\w-]*)\)(?: cpu (\d+) step (\d+))?/.exec(curOp);
  if (!m) return curOp;
  return m[3] !== undefined ? `s${m[1]}.c${m[3]}.${m[4]}` : `s${m[1]}`;
}

/** A content word as a label: 0, zero page, poison, or the step that wrote the token. */
function contentLabel(x: Exec, value: number): string {
  if (value === 0) return '0';
  if (value === SEGV_READ) return 'SIGSEGV';
  if (value === STORE_DONE) return 'stored';
  if (value === POISON) return 'poison';
  const w = x.writers?.get(value);
  if (w !== undefined) return stepLabel(w);
  if (value < 0) return `file:${hex(value)}`; // a file token (bit 31), written by the MMU
  return `tok(mm${tokenMm(value)},${hexAddr(tokenVpn(value) * PAGE_SIZE)},v${tokenVersion(value)})`;
}

/** The observable end state as one line per process and one for the reads (deterministic text: the key outcomes are grouped by). */
export function outcomeOf(sc: Scenario, x: Exec, vpns: readonly number[]): string {
  const { machine } = x;
  const folioIds = new Map<number, number>();
  const lines: string[] = [];
  for (const name of [...x.procs.keys()].sort()) {
    const mm = x.procs.get(name)!;
    const parts: string[] = [];
    // consecutive pages with the same description after the address collapse into one run
    let run: { from: number; to: number; text: string } | null = null;
    const flush = () => {
      if (run) parts.push(`${hexAddr(run.from * PAGE_SIZE)}${run.to > run.from ? `-${hexAddr((run.to + 1) * PAGE_SIZE - 1)}` : ''}:${run.text}`);
      run = null;
    };
    for (const vpn of vpns) {
      const st = pageState(machine, mm, vpn);
      let text: string;
      if (!st.present) text = '-';
      else if (st.pfn === ZERO_PFN) text = 'zero';
      else {
        if (!folioIds.has(st.folio)) folioIds.set(st.folio, folioIds.size);
        const content = contentLabel(x, Atomics.load(machine.m, machine.L.pContent + st.pfn));
        text = `F${folioIds.get(st.folio)}/o${st.folioOrder}${st.writable ? ' w' : ''}${st.dirty ? ' d' : ''} =${content}`;
      }
      if (run && run.to === vpn - 1 && run.text === text) run.to = vpn;
      else {
        flush();
        run = { from: vpn, to: vpn, text };
      }
    }
    flush();
    lines.push(`${name}: ${parts.join(' ')}`);
  }
  // the accesses of the concurrent blocks (a sequential step's loads are the oracle's to check): by step, in program order
  const seen = new Map<string, string[]>();
  for (const r of x.reads ?? []) {
    const at = stepLabel(r.at);
    if (!at.includes('.c')) continue;
    (seen.get(at) ?? seen.set(at, []).get(at)!).push(`${r.proc}${hexAddr(r.vpn * PAGE_SIZE)}=${contentLabel(x, r.value)}`);
  }
  if (seen.size) lines.push(`seen: ${[...seen.keys()].sort().map((k) => `${k}[${seen.get(k)!.join(' ')}]`).join(' ')}`);
  return lines.join('; ');
}
