// Compares the model's and the kernel's observations of one scenario, step by step, page by page
// (issue 16). Folios compare by first-appearance ids, so that sharing and copying compare across
// the two sides' different PFNs. A difference listed in configs/conformance/known-differences.json
// (with its kernel reference and reason) is reported as known and does not fail the run.
import { basename } from 'node:path';
import type { Scenario } from '../scenario/format.js';
import type { PageObs, ScenarioObs, StepObs } from './observe.js';

export interface Difference {
  file: string;
  step: number;
  op: string;
  proc?: string;
  addr?: number;
  field: string;
  model: unknown;
  kernel: unknown;
  /** set when a known difference covers it: that entry's reason */
  known?: string;
}

export interface KnownDifference {
  /** the scenario file's base name, or "*" */
  file: string;
  /** the observed field, or "*": every field (a documented difference whose effects run through the whole scenario) */
  field: string;
  step?: number;
  proc?: string;
  reason: string;
  reference: string;
}

/**
 * Per step, per page (proc@addr), the folio's id: the order in which the scenario's observations
 * first meet its head. A head that no page showed in the step before gets a new id (its PFN may
 * have been freed and reused for another folio, which the two sides do differently).
 */
export function folioIds(steps: readonly StepObs[]): Map<number, Map<string, number>> {
  const out = new Map<number, Map<string, number>>();
  let prev = new Map<number, number>();
  let next = 1;
  for (const s of steps) {
    const cur = new Map<number, number>();
    const ids = new Map<string, number>();
    for (const p of s.pages) {
      if (!p.present || p.zero || p.head === undefined) continue;
      let id = cur.get(p.head) ?? prev.get(p.head);
      if (id === undefined) id = next++;
      cur.set(p.head, id);
      ids.set(`${p.proc}@${p.addr}`, id);
    }
    out.set(s.step, ids);
    prev = cur;
  }
  return out;
}

const hex = (n: number): string => `0x${n.toString(16)}`;

/** Every difference between the two sides' observations of sc (known ones marked). */
export function compareScenario(sc: Scenario, model: ScenarioObs, kernel: ScenarioObs, known: readonly KnownDifference[] = []): Difference[] {
  const file = basename(sc.file);
  const out: Difference[] = [];
  const add = (d: Omit<Difference, 'file'>): void => {
    const k = known.find((e) => (e.file === '*' || e.file === file) && (e.field === '*' || e.field === d.field) && (e.step === undefined || e.step === d.step) && (e.proc === undefined || e.proc === d.proc));
    out.push({ file, ...d, ...(k ? { known: k.reason } : {}) });
  };
  const mIds = folioIds(model.steps), kIds = folioIds(kernel.steps);
  const kSteps = new Map(kernel.steps.map((s) => [s.step, s]));
  for (const ms of model.steps) {
    const ks = kSteps.get(ms.step);
    if (!ks) {
      add({ step: ms.step, op: ms.op, field: 'step', model: 'ran', kernel: kernel.error ?? 'no observation (the executor stopped before this step)' });
      break;
    }
    const stepDef = sc.steps[ms.step];
    const faultExpected = (stepDef.op === 'read' || stepDef.op === 'write') && stepDef.expectFault;
    const wantErrno = faultExpected ? 14 : 0;
    if ((ks.errno ?? 0) !== wantErrno) add({ step: ms.step, op: ms.op, field: 'errno', model: wantErrno, kernel: ks.errno });
    // faults taken by a read or a write (the kernel's minflt of the actor: other ops' counts
    // include the executor's own work, an io_uring ring's pages for a pin)
    if ((stepDef.op === 'read' || stepDef.op === 'write') && ks.minflt !== undefined && ms.minflt !== ks.minflt) add({ step: ms.step, op: ms.op, proc: stepDef.proc, field: 'faults', model: ms.minflt, kernel: ks.minflt });
    if (ms.anonAlloc && ks.anonAlloc) {
      for (const o of new Set([...Object.keys(ms.anonAlloc), ...Object.keys(ks.anonAlloc)].map(Number))) {
        const a = ms.anonAlloc[o] ?? 0, b = ks.anonAlloc[o] ?? 0;
        if (a !== b) add({ step: ms.step, op: ms.op, field: `anonFaultAlloc.${(4 << o)}kB`, model: a, kernel: b });
      }
    }
    if (ms.values && !faultExpected) {
      const kv = ks.values ?? [];
      for (let i = 0; i < ms.values.length; i++) {
        if (ms.values[i] !== (kv[i] ?? null)) add({ step: ms.step, op: ms.op, proc: 'proc' in stepDef ? stepDef.proc : undefined, addr: 'addr' in stepDef ? stepDef.addr + i * 4096 : undefined, field: 'value', model: ms.values[i], kernel: kv[i] ?? null });
      }
    }
    const kPages = new Map(ks.pages.map((p) => [`${p.proc}@${p.addr}`, p]));
    const mi = mIds.get(ms.step)!, ki = kIds.get(ms.step)!;
    for (const mp of ms.pages) {
      const key = `${mp.proc}@${mp.addr}`;
      const kp = kPages.get(key);
      const at = { step: ms.step, op: ms.op, proc: mp.proc, addr: mp.addr };
      if (!kp) {
        add({ ...at, field: 'page', model: 'observed', kernel: 'missing' });
        continue;
      }
      comparePage(mp, kp, mi.get(key), ki.get(key), (field, model, kernel) => add({ ...at, field, model, kernel }));
    }
    const kRss = new Map(ks.rss.map((r) => [r.proc, r]));
    for (const mr of ms.rss) {
      const kr = kRss.get(mr.proc);
      if (!kr) {
        add({ step: ms.step, op: ms.op, proc: mr.proc, field: 'rss', model: 'observed', kernel: 'missing' });
        continue;
      }
      if (mr.anonKb !== kr.anonKb) add({ step: ms.step, op: ms.op, proc: mr.proc, field: 'rssAnon', model: mr.anonKb, kernel: kr.anonKb });
      if (mr.fileKb !== kr.fileKb) add({ step: ms.step, op: ms.op, proc: mr.proc, field: 'rssFile', model: mr.fileKb, kernel: kr.fileKb });
    }
  }
  return out;
}

function comparePage(m: PageObs, k: PageObs, mId: number | undefined, kId: number | undefined, diff: (field: string, model: unknown, kernel: unknown) => void): void {
  // soft-dirty: present or not (a side that does not report it is not compared)
  if (m.softDirty !== undefined && k.softDirty !== undefined && m.softDirty !== k.softDirty) diff('softDirty', m.softDirty, k.softDirty);
  if (m.present !== k.present) return diff('present', m.present, k.present);
  if (!m.present) return;
  if (m.zero !== k.zero) return diff('zeroPage', m.zero, k.zero);
  if (m.zero) return;
  if (m.order !== k.order) diff('order', m.order, k.order);
  if (m.idx !== k.idx) diff('index', m.idx, k.idx);
  if (mId !== kId) diff('folio', `#${mId}`, `#${kId}`);
  if (m.mapcount !== k.mapcount) diff('mapcount', m.mapcount, k.mapcount);
  // anon or page cache; a page-cache folio's dirty flag (writeback cleans it)
  if (m.file !== undefined && k.file !== undefined && m.file !== k.file) return diff('file', m.file, k.file);
  if (m.dirty !== undefined && k.dirty !== undefined && m.dirty !== k.dirty) diff('fileDirty', m.dirty, k.dirty);
}

/** One line per difference: file, step, process, page, field, model vs kernel. */
export function formatDifference(d: Difference, withFile = true): string {
  const where = [withFile ? d.file : '', `step ${d.step} (${d.op})`, d.proc ? `process ${d.proc}` : '', d.addr !== undefined ? `page ${hex(d.addr)}` : ''].filter(Boolean).join(', ');
  return `${where}: ${d.field}: model ${JSON.stringify(d.model)}, kernel ${JSON.stringify(d.kernel)}${d.known ? ` (known: ${d.known})` : ''}`;
}
