// `foliostorm experiment batching`: every cell is produced, the cost relations the kernel code
// implies hold in the model, the counts are deterministic, and batched and per-PTE end the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BATCHING_ARCHES, BATCHING_OPS, type BatchingResult, type Cell, parseSize, QUICK_BYTES, QUICK_ORDERS, runBatchingExperiment,
} from '../../src/experiment/batching.js';
import { CONT_PTES } from '../../src/linux/arch/arm64/mm/contpte.js';
import { PTRS_PER_PTE } from '../../src/config/config.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const run = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
const tmp = () => mkdtempSync(join(tmpdir(), 'foliostorm-exp-'));

// the quick run of the command, shared by the tests below (about 10 s)
let quick: { result: BatchingResult; dir: string } | null = null;
function quickRun(): { result: BatchingResult; dir: string } {
  if (quick) return quick;
  const out = tmp();
  const r = run(['experiment', 'batching', '--quick', '--out', out, '--json']);
  assert.equal(r.status, 0, r.stderr + r.stdout.slice(0, 2000));
  const result = JSON.parse(r.stdout) as BatchingResult;
  const dirs = readdirSync(out);
  assert.equal(dirs.length, 1);
  assert.match(dirs[0], /^experiment-batching-/);
  quick = { result, dir: join(out, dirs[0]) };
  return quick;
}
const cellsOf = (r: BatchingResult, f: (c: Cell) => boolean = () => true) => r.cells.filter(f);

test('experiment batching --quick produces every cell and writes batching.json, batching.md and a self-contained batching.svg', () => {
  const { result: r, dir } = quickRun();
  assert.equal(r.bytes, QUICK_BYTES);
  assert.deepEqual(r.orders, [...QUICK_ORDERS]);
  assert.equal(r.cells.length, BATCHING_OPS.length * BATCHING_ARCHES.length * QUICK_ORDERS.length);
  for (const op of BATCHING_OPS) for (const arch of BATCHING_ARCHES) for (const order of QUICK_ORDERS) {
    const c = r.cells.find((x) => x.op === op && x.arch === arch && x.order === order);
    assert.ok(c, `no cell for ${op} ${arch} order ${order}`);
    for (const m of [c.batched, c.perPte]) {
      for (const k of ['tlbi', 'contUnfold', 'contFold', 'ptlHolds', 'ptlHoldSteps', 'steps', 'folioUpdates', 'wallNs', 'cpuNs'] as const) assert.equal(typeof m[k], 'number', `${op} ${arch} ${order}: ${k}`);
      assert.ok(m.steps > 0 && m.ptlHolds > 0 && m.wallNs > 0);
    }
  }
  assert.deepEqual(readdirSync(dir).sort(), ['batching.json', 'batching.md', 'batching.svg']);
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'batching.json'), 'utf8')).cells.length, r.cells.length);
  const md = readFileSync(join(dir, 'batching.md'), 'utf8');
  for (const op of BATCHING_OPS) assert.match(md, new RegExp(`### ${op}\\n`));
  assert.match(md, /### Against the published figures/);
  const svg = readFileSync(join(dir, 'batching.svg'), 'utf8');
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(svg, /<style>/);
  assert.doesNotMatch(svg, /<script|href=|url\(/);
  assert.equal((svg.match(/data-plot="lines"/g) ?? []).length, BATCHING_OPS.length);
});

test('batched never issues more TLB invalidations or contpte unfolds than per-PTE; on generic both issue the same', () => {
  const { result: r } = quickRun();
  for (const c of r.cells) {
    const at = `${c.op} ${c.arch} order ${c.order}`;
    assert.ok(c.batched.tlbi <= c.perPte.tlbi, `${at}: TLBIs ${c.batched.tlbi} > ${c.perPte.tlbi}`);
    assert.ok(c.batched.contUnfold <= c.perPte.contUnfold, `${at}: unfolds ${c.batched.contUnfold} > ${c.perPte.contUnfold}`);
    assert.equal(c.batched.ptlHolds, c.perPte.ptlHolds, `${at}: both lock the same tables`);
  }
  // generic: no contpte, and the flushes are per operation (fork: flush_tlb_mm; mprotect: one
  // range at the end) or per PTE table (munmap: tlb_flush_mmu after each zap_pte_range)
  const tables = r.pages / PTRS_PER_PTE;
  for (const c of cellsOf(r, (x) => x.arch === 'generic')) {
    for (const m of [c.batched, c.perPte]) {
      assert.equal(m.contUnfold + m.contFold + m.contPtes, 0);
      assert.equal(m.tlbi, c.op === 'munmap' ? tables : 1, `${c.op} order ${c.order}`);
    }
  }
});

test('contpte: the per-PTE forms unfold every cont block once (fork and mprotect fold them back), the batched forms never unfold', () => {
  // arm64 wrprotect_ptes/clear_full_ptes/get_and_clear_full_ptes with nr == 1 call
  // contpte_try_unfold() on a cont entry; with nr > 1 only blocks the batch covers in part unfold
  // (contpte_try_unfold_partial), and a batch over a whole folio covers its blocks whole. The
  // per-PTE set_pte_at() calls contpte_try_fold() at a block's last entry (fork's child, mprotect's
  // commit); set_ptes(nr > 1) writes whole blocks cont without a fold.
  const { result: r } = quickRun();
  const blocks = r.pages / CONT_PTES;
  for (const c of cellsOf(r, (x) => x.arch === 'contpte')) {
    const at = `${c.op} order ${c.order}`;
    const large = c.order >= 4; // a folio of at least one whole 16-entry block: mapped cont
    assert.equal(c.batched.contUnfold, 0, at);
    assert.equal(c.batched.contFold, 0, at);
    assert.equal(c.perPte.contUnfold, large ? blocks : 0, at);
    assert.equal(c.perPte.contFold, large && c.op !== 'munmap' ? blocks : 0, at);
    // every unfold and fold is a contpte_convert(): one flush_tlb_range of its block
    assert.equal(c.perPte.tlbi - c.batched.tlbi, c.perPte.contUnfold + c.perPte.contFold, at);
    // what stays cont: batched fork keeps the parent's blocks (wrprotect in place) and maps the
    // child's cont; per-PTE fork leaves the parent unfolded
    const after = c.op === 'munmap' || !large ? 0 : c.op === 'fork' ? 2 * r.pages : r.pages;
    assert.equal(c.batched.contPtes, after, `${at}: cont entries after, batched`);
    assert.equal(c.perPte.contPtes, c.op === 'fork' && large ? r.pages : after, `${at}: cont entries after, per-PTE`);
  }
  assert.ok(cellsOf(r, (x) => x.arch === 'contpte' && x.op === 'fork' && x.order === 9)[0].perPte.contUnfold > 0);
});

test('fork and munmap update each folio once per batch: per-PTE makes 2^order times the refcount/mapcount updates', () => {
  // copy_present_ptes: folio_ref_add(nr) + folio_try_dup_anon_rmap_ptes(nr) per batch;
  // zap_present_ptes: folio_remove_rmap_ptes(nr) + one deferred reference drop per batch
  const { result: r } = quickRun();
  for (const c of cellsOf(r, (x) => x.op !== 'mprotect')) {
    assert.equal(c.perPte.folioUpdates, c.batched.folioUpdates * (1 << c.order), `${c.op} ${c.arch} order ${c.order}`);
    assert.equal(c.perPte.folioUpdates, 2 * r.pages, `${c.op} ${c.arch} order ${c.order}: two per page`);
  }
});

test('batched and per-PTE end in the same state (PTE_CONT aside), after the fault-in and after each operation', () => {
  const { result: r } = quickRun();
  for (const p of r.populateSame) assert.ok(p.same, `populate ${p.arch} order ${p.order}`);
  for (const c of r.cells) assert.ok(c.sameState, `${c.op} ${c.arch} order ${c.order}: ${c.batched.state} vs ${c.perPte.state}`);
});

test('the counts are deterministic: two runs (with the invariant checker after every operation) agree on everything but wall time', async () => {
  const o = { bytes: 4 << 20, orders: [0, 4, 9], warmup: false, check: true };
  const strip = (r: BatchingResult) => r.cells.map((c) => {
    const { wallNs: _a, cpuNs: _e, ...b } = c.batched;
    const { wallNs: _b, cpuNs: _f, ...p } = c.perPte;
    const { wallNs: _c, cpuNs: _d, ...x } = c.perPteOverBatched;
    return { op: c.op, arch: c.arch, order: c.order, b, p, x, same: c.sameState };
  });
  const a = await runBatchingExperiment(o), b = await runBatchingExperiment({ ...o, reps: 2 });
  assert.deepEqual(strip(b), strip(a));
  assert.deepEqual(b.populateSame, a.populateSame);
});

test('bad flags exit 2 naming the flag; --size parses 1G, 256M, 16MiB', () => {
  assert.equal(parseSize('1G'), 1 << 30);
  assert.equal(parseSize('256M'), 256 << 20);
  assert.equal(parseSize('16MiB'), 16 << 20);
  for (const [args, flag] of [[['--size', '3M'], '--size'], [['--size', '2G'], '--size'], [['--orders', '1'], '--orders'], [['--reps', '0'], '--reps']] as const) {
    const r = run(['experiment', 'batching', '--quick', '--out', tmp(), ...args]);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(flag));
  }
  const r = run(['experiment', 'nosuch']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /Choices: .*"batching"/);
});
