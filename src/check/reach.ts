// The reach floor (issue #14: a clean night must mean no bug): a run that did not exercise the
// paths its config enables is not clean. A model that silently stops working finds nothing: every
// VMA slot looking free (the workload does nothing), all memory held back (every fault OOMs),
// pins that always fail, large folios, batching or contpte folding that never happen. So, per
// model variant (seed s runs variant s mod n; one without `variants`), the run sums the event
// counts over that variant's seeds and judges the rules below against them: a floor (the
// expression counted something) wherever the variant's config enables the path, and a hard rule
// (the expression counted nothing) where the config rules the path out, such as the batched paths
// in the per-PTE reference variants. A rule that fails is a run-level finding (invariant
// `reach-floor`, path = the rule): exit 1, like a violation, but with no seed and no artifact.
//
// Which rules apply is derived from the variant's config alone (weights, files, orders, arch,
// batching, anonFallback), never from a list per config. A floor is judged only when the
// variant's seeds were expected to run enough of the ops that drive it (seeds x cpus x opsPerCpu
// x their share of the weights, a function of the config and the seed count the model cannot
// change), so a short run or a rare op is "not judged" rather than a false finding; the bars
// (minOps) were measured on every config in configs/ (docs/checks.md, "Reach floor").
import type { Config } from '../config/config.js';
import { signatureOf } from '../machine/cpu.js';
import { OP_KINDS, type OpKind } from '../machine/ops.js';

export const REACH_INVARIANT = 'reach-floor';
/** A variant that ran fewer seeds is not judged at all. */
export const DEFAULT_REACH_MIN_SEEDS = 4;
/** The ops a floor's driving op kinds must have been expected to run, unless the rule says more. */
export const DEFAULT_MIN_OPS = 100;

/** One rule of the table. */
export interface ReachRule {
  rule: string;
  /** When the rule is judged: the condition on the variant's config, as text (applies is the code). */
  when: string;
  applies: (c: Config) => boolean;
  /** floor: the expression must count something over the variant's seeds; zero: it must count nothing. */
  need: 'floor' | 'zero';
  /**
   * A sum of event names (src/machine/events.ts): `a + b`; in a name, `*` stands for one
   * dot-separated part and `>0` for an order above 0 (anon.mapped.>0); `{o}` is the order of a
   * per-order rule.
   */
  expr: string;
  /** A per-order rule: one rule per order this returns, named rule with {o} replaced. */
  orders?: (c: Config) => number[];
  /** A per-op-kind rule: one rule per kind this returns, {k} replaced in rule and expr, driven by ops of that kind. */
  kinds?: (c: Config) => OpKind[];
  /** floor: the op kinds that drive it, whose expected count over the seeds must reach minOps. */
  ops?: readonly OpKind[];
  /** floor: the expected ops of `ops` it needs to be judged (default DEFAULT_MIN_OPS). */
  minOps?: number;
  why: string;
}

const w = (c: Config, k: OpKind): number => c.weights[k] ?? 0;
const touches = (c: Config): boolean => w(c, 'touch') > 0;
/** anon VMAs exist (mmap) */
const anonVmas = (c: Config): boolean => w(c, 'mmap') > 0;
/** file VMAs exist */
const fileVmas = (c: Config): boolean => c.files.count > 0 && w(c, 'mmapfile') > 0;
const anyVmas = (c: Config): boolean => anonVmas(c) || fileVmas(c);
const writes = (c: Config): boolean => touches(c) && c.writeRatio > 0;
const forks = (c: Config): boolean => w(c, 'fork') > 0 || w(c, 'forkexit') > 0;
/**
 * Large allocations succeed often enough for the order floors: measured with fragmentation up to
 * 0.2 and no allocFailRate (a rate up to 0.25 leaves the bars' margin).
 */
const largeAllocsWork = (c: Config): boolean => c.fragmentation <= 0.2 && (c.allocFailRate ?? 0) <= 0.25;
/** anon orders above 0 a write fault can map: enabled, and fitting in the largest mmap. */
const anonLarge = (c: Config): number[] => (anonVmas(c) && writes(c) && largeAllocsWork(c) ? c.anonOrders.filter((o) => o > 0 && 1 << o <= c.mmapPages.max) : []);
/** page-cache orders above 0 a file fault can cache: configured, and fitting in the file. */
// kernel 6.12's page cache is order 0 whatever files.orders says (src/linux/mm/filemap.ts fileOrders)
const fileLarge = (c: Config): number[] => (fileVmas(c) && touches(c) && largeAllocsWork(c) && c.kernel !== '6.12' ? c.files.orders.filter((o) => o > 0 && 1 << o <= c.files.pages) : []);
/** arm64 contpte blocks are 16 entries: an order-4 folio or larger can fill one. */
const contSized = (orders: number[]): boolean => orders.some((o) => o >= 4);

/**
 * The rules, in one place. minOps was measured (docs/checks.md, "Reach floor") on every config of
 * configs/ and variant of nightly.json (6 to 120 seeds each, nightly 100 per variant): the ops
 * after which every seed counting nothing has a probability below 1e-6, from the share p of seeds
 * that counted nothing (ops per seed x ln(1e-6) / ln(p)); where no seed of n did, the smaller of
 * that with p = 1/(n+1) and 10x the ops after which a Poisson count at the measured rate would be
 * 0 with that probability; the worst config, rounded up by about half.
 */
export const REACH_RULES: readonly ReachRule[] = [
  // progress: the workload did something
  { rule: 'accesses', when: 'touch > 0 and mmap or mmapfile > 0', applies: (c) => touches(c) && anyVmas(c), need: 'floor', expr: 'access.read + access.write', ops: ['touch'], why: 'user accesses ran; none: no VMA was ever found, or every touch ended at once' },
  { rule: 'faults-mapped', when: 'touch > 0 and mmap or mmapfile > 0', applies: (c) => touches(c) && anyVmas(c), need: 'floor', expr: 'anon.mapped.* + anon.mapZeroPage + file.mappedPtes', ops: ['touch'], why: 'faults mapped pages; none: every fault failed, SIGSEGV or OOM' },
  { rule: 'anon-write-fault', when: 'touch > 0, writeRatio > 0, mmap > 0', applies: (c) => writes(c) && anonVmas(c), need: 'floor', expr: 'anon.mapped.*', ops: ['touch'], minOps: 500, why: 'anon write faults allocated and mapped folios; none: every allocation failed' },
  { rule: 'anon-zero-page', when: 'touch > 0, writeRatio < 1, mmap > 0', applies: (c) => touches(c) && c.writeRatio < 1 && anonVmas(c), need: 'floor', expr: 'anon.mapZeroPage', ops: ['touch'], minOps: 200, why: 'anon read faults mapped the zero page' },
  { rule: 'writes', when: 'touch > 0, writeRatio > 0, mmap or mmapfile > 0', applies: (c) => writes(c) && anyVmas(c), need: 'floor', expr: 'access.write', ops: ['touch'], why: 'user stores ran' },
  { rule: 'file-fault', when: 'files.count > 0, mmapfile > 0, touch > 0', applies: (c) => fileVmas(c) && touches(c), need: 'floor', expr: 'file.mappedPtes', ops: ['touch'], why: 'file faults mapped page-cache pages' },
  { rule: 'mmap', when: 'mmap or mmapfile > 0', applies: anyVmas, need: 'floor', expr: 'mmap', ops: ['mmap', 'mmapfile'], minOps: 300, why: 'mmap succeeded' },
  { rule: 'munmap', when: 'munmap > 0, mmap or mmapfile > 0', applies: (c) => w(c, 'munmap') > 0 && anyVmas(c), need: 'floor', expr: 'munmap', ops: ['munmap'], minOps: 300, why: 'munmap succeeded' },
  { rule: 'dontneed', when: 'dontneed > 0, mmap or mmapfile > 0', applies: (c) => w(c, 'dontneed') > 0 && anyVmas(c), need: 'floor', expr: 'madvise.dontneed', ops: ['dontneed'], minOps: 300, why: 'MADV_DONTNEED ran' },
  { rule: 'mremap', when: 'mremap > 0, mmap or mmapfile > 0', applies: (c) => w(c, 'mremap') > 0 && anyVmas(c), need: 'floor', expr: 'mremap', ops: ['mremap'], minOps: 500, why: 'mremap moved a range' },
  { rule: 'mprotect', when: 'mprotect > 0, mmap or mmapfile > 0', applies: (c) => w(c, 'mprotect') > 0 && anyVmas(c), need: 'floor', expr: 'mprotect', ops: ['mprotect'], minOps: 300, why: 'mprotect succeeded' },
  { rule: 'dontfork', when: 'dontfork > 0, mmap or mmapfile > 0', applies: (c) => w(c, 'dontfork') > 0 && anyVmas(c), need: 'floor', expr: 'madvise.dontfork + madvise.dofork', ops: ['dontfork'], why: 'MADV_DONTFORK/DOFORK ran' },
  // a fork needs a free process slot: 3% of fork ops succeed in configs/smoke.json (13 in 15 seeds fork nothing)
  { rule: 'fork', when: 'fork or forkexit > 0', applies: forks, need: 'floor', expr: 'fork', ops: ['fork', 'forkexit'], minOps: 1_000, why: 'fork succeeded' },
  { rule: 'pin', when: 'pin > 0, mmap > 0', applies: (c) => w(c, 'pin') > 0 && anonVmas(c), need: 'floor', expr: 'gup.fast + gup.slow', ops: ['pin'], why: 'GUP pinned pages' },
  { rule: 'pin-io', when: 'pin > 0, pinio > 0, mmap > 0', applies: (c) => w(c, 'pin') > 0 && w(c, 'pinio') > 0 && anonVmas(c), need: 'floor', expr: 'gup.pinIo', ops: ['pinio'], minOps: 200, why: 'devices did I/O through pins' },
  { rule: 'writeback', when: 'files.count > 0, writeback > 0', applies: (c) => c.files.count > 0 && w(c, 'writeback') > 0, need: 'floor', expr: 'writeback', ops: ['writeback'], minOps: 150, why: 'writeback ran' },
  { rule: 'writeback-folios', when: 'files.count > 0, mmapfile > 0, writeback > 0, touch > 0, writeRatio > 0', applies: (c) => fileVmas(c) && w(c, 'writeback') > 0 && writes(c), need: 'floor', expr: 'writeback.folios', ops: ['writeback'], why: 'writeback wrote dirty folios' },
  { rule: 'file-cow', when: 'files.count > 0, mmapfile > 0, touch > 0, writeRatio > 0', applies: (c) => fileVmas(c) && writes(c), need: 'floor', expr: 'file.cowFault', ops: ['touch'], minOps: 1_600, why: 'stores to private file mappings copied pages' },
  { rule: 'wp-shared', when: 'files.count > 0, mmapfile > 0, touch > 0, writeRatio > 0, files.writenotify is not off', applies: (c) => fileVmas(c) && writes(c) && c.files.writenotify !== 'off', need: 'floor', expr: 'wp.shared', ops: ['touch'], minOps: 2_400, why: 'stores to write-notify shared mappings took the write-protect fault' },
  { rule: 'memcg-charge-fail', when: 'memcgFailRate > 0, touch > 0, writeRatio > 0, mmap > 0', applies: (c) => (c.memcgFailRate ?? 0) > 0 && writes(c) && anonVmas(c), need: 'floor', expr: 'memcg.chargeFail', ops: ['touch'], minOps: 1_000, why: 'memory cgroup charges failed: faults returned VM_FAULT_OOM, large folios fell back on a charge' },
  // COW
  { rule: 'cow-copy', when: 'touch > 0, writeRatio > 0, mmap > 0', applies: (c) => writes(c) && anonVmas(c), need: 'floor', expr: 'wp.copy', ops: ['touch'], minOps: 1_000, why: 'write faults on read-only anon entries copied: the zero page, pages shared by fork' },
  { rule: 'cow-reuse', when: 'fork or forkexit > 0, touch > 0, writeRatio > 0, mmap > 0', applies: (c) => forks(c) && writes(c) && anonVmas(c), need: 'floor', expr: 'wp.reuse', ops: ['fork', 'forkexit'], minOps: 1_200, why: 'write faults after fork reused exclusive pages in place' },
  // orders
  { rule: 'anon-large', when: 'anonOrders has an order > 0 that fits mmapPages.max; touch, writeRatio, mmap > 0; fragmentation <= 0.2, allocFailRate <= 0.25', applies: (c) => anonLarge(c).length > 0, need: 'floor', expr: 'anon.mapped.>0', ops: ['touch'], minOps: 2_400, why: 'large anon folios were mapped; none: mTHP never chosen, e.g. the scan never finds a range none' },
  { rule: 'anon-order-{o}', when: 'each such anon order', applies: (c) => anonLarge(c).length > 0, orders: anonLarge, need: 'floor', expr: 'anon.mapped.{o}', ops: ['touch'], minOps: 10_000, why: 'each enabled anon order was mapped; the highest are the rarest: 1 in 3 nightly seeds maps no order-5 folio' },
  { rule: 'file-large', when: 'files.orders has an order > 0 that fits files.pages; files.count, mmapfile, touch > 0; fragmentation <= 0.2, allocFailRate <= 0.25', applies: (c) => fileLarge(c).length > 0, need: 'floor', expr: 'file.cached.>0', ops: ['touch'], minOps: 2_400, why: 'large page-cache folios were cached; the lower orders are fallbacks only, so no order in particular is required' },
  // batching
  { rule: 'batch-anon', when: 'batching, anon-large applies', applies: (c) => c.batching && anonLarge(c).length > 0, need: 'floor', expr: 'anon.batched', ops: ['touch'], minOps: 3_200, why: 'do_anonymous_page mapped large folios with one set_ptes' },
  { rule: 'batch-file', when: 'batching, file-large applies', applies: (c) => c.batching && fileLarge(c).length > 0, need: 'floor', expr: 'file.batched', ops: ['touch'], minOps: 1_500, why: 'finish_fault mapped runs of large file folios with one set_ptes' },
  { rule: 'batch-zap', when: 'batching, anon-large or file-large applies', applies: (c) => c.batching && (anonLarge(c).length > 0 || fileLarge(c).length > 0), need: 'floor', expr: 'zap.batched', ops: ['touch'], minOps: 1_300, why: 'zap_present_ptes zapped runs of large folios at once' },
  // fork succeeds in 3% of fork ops in smoke.json, and then not always over a large folio
  { rule: 'batch-fork', when: 'batching, fork or forkexit > 0, anon-large or file-large applies', applies: (c) => c.batching && forks(c) && (anonLarge(c).length > 0 || fileLarge(c).length > 0), need: 'floor', expr: 'fork.batch', ops: ['fork', 'forkexit'], minOps: 1_500, why: 'copy_present_ptes copied runs of large folios at once' },
  { rule: 'batch-mprotect', when: 'batching, mprotect > 0, anon-large or file-large applies', applies: (c) => c.batching && w(c, 'mprotect') > 0 && (anonLarge(c).length > 0 || fileLarge(c).length > 0), need: 'floor', expr: 'mprotect.batched', ops: ['mprotect'], minOps: 1_300, why: 'change_pte_range changed runs of large folios in one transaction' },
  { rule: 'per-pte-anon', when: 'batching false', applies: (c) => !c.batching, need: 'zero', expr: 'anon.batched', why: 'the per-PTE reference must not batch anon mappings' },
  { rule: 'per-pte-file', when: 'batching false', applies: (c) => !c.batching, need: 'zero', expr: 'file.batched', why: 'the per-PTE reference must not batch file mappings' },
  { rule: 'per-pte-zap', when: 'batching false', applies: (c) => !c.batching, need: 'zero', expr: 'zap.batched', why: 'the per-PTE reference must not batch zaps' },
  { rule: 'per-pte-fork', when: 'batching false', applies: (c) => !c.batching, need: 'zero', expr: 'fork.batch', why: 'the per-PTE reference must not batch fork copies' },
  { rule: 'per-pte-mprotect', when: 'batching false', applies: (c) => !c.batching, need: 'zero', expr: 'mprotect.batched', why: 'the per-PTE reference must not batch mprotect' },
  // every op kind the config weighs was drawn and began (the weights' keys, not the op table)
  { rule: 'op-{k}', when: 'each op kind with a weight > 0', applies: () => true, kinds: (c) => (Object.keys(c.weights) as OpKind[]).filter((k) => w(c, k) > 0), need: 'floor', expr: 'ops.{k}', minOps: 30, why: 'the workload ran every kind of op its weights name; none: the kind is never drawn or never begins' },
  // GUP-fast pins without the mmap_lock when the entry already allows it
  { rule: 'gup-fast', when: 'pin > 0, mmap > 0, touch > 0', applies: (c) => w(c, 'pin') > 0 && anonVmas(c) && touches(c), need: 'floor', expr: 'gup.fast', ops: ['pin'], minOps: 600, why: 'GUP-fast pinned pages (the lockless walk); none: every pin took the slow path' },
  // the checker's contract points (src/check/points.ts): each was evaluated where the config drives it
  { rule: 'check-tlb-munmap', when: 'munmap > 0, mmap or mmapfile > 0', applies: (c) => w(c, 'munmap') > 0 && anyVmas(c), need: 'floor', expr: 'check.tlbSynced.do_munmap', ops: ['munmap'], minOps: 300, why: 'TLB coherence was checked at munmap\'s return' },
  { rule: 'check-tlb-dontneed', when: 'dontneed > 0, mmap or mmapfile > 0', applies: (c) => w(c, 'dontneed') > 0 && anyVmas(c), need: 'floor', expr: 'check.tlbSynced.madvise_dontneed', ops: ['dontneed'], minOps: 300, why: 'TLB coherence was checked at MADV_DONTNEED\'s return' },
  { rule: 'check-tlb-mprotect', when: 'mprotect > 0, mmap or mmapfile > 0', applies: (c) => w(c, 'mprotect') > 0 && anyVmas(c), need: 'floor', expr: 'check.tlbSynced.do_mprotect', ops: ['mprotect'], minOps: 300, why: 'TLB coherence was checked at mprotect\'s return' },
  { rule: 'check-tlb-mremap', when: 'mremap > 0, mmap or mmapfile > 0', applies: (c) => w(c, 'mremap') > 0 && anyVmas(c), need: 'floor', expr: 'check.tlbSynced.move_vma', ops: ['mremap'], minOps: 500, why: 'TLB coherence was checked after mremap moved a range' },
  { rule: 'check-tlb-cow', when: 'touch > 0, writeRatio > 0, mmap > 0', applies: (c) => writes(c) && anonVmas(c), need: 'floor', expr: 'check.tlbSynced.wp_page_copy', ops: ['touch'], minOps: 1_000, why: 'TLB coherence was checked after a COW copy replaced a page' },
  { rule: 'check-tlb-mkclean', when: 'files.count > 0, mmapfile > 0, writeback > 0, touch > 0, writeRatio > 0', applies: (c) => fileVmas(c) && w(c, 'writeback') > 0 && writes(c), need: 'floor', expr: 'check.tlbSynced.page_vma_mkclean_one', ops: ['writeback'], minOps: 300, why: 'TLB coherence was checked after writeback write-protected mapped entries' },
  { rule: 'check-tlb-exit', when: 'mmap or mmapfile > 0', applies: anyVmas, need: 'floor', expr: 'check.tlbSynced.exit_mmap', ops: ['touch', 'mmap', 'mmapfile'], why: 'TLB coherence was checked when an address space was torn down' },
  { rule: 'check-tlb-fork', when: 'fork or forkexit > 0', applies: forks, need: 'floor', expr: 'check.tlbSynced.dup_mmap', ops: ['fork', 'forkexit'], minOps: 1_000, why: 'TLB coherence was checked after fork write-protected the parent' },
  { rule: 'check-ptl-entries', when: 'touch > 0, mmap or mmapfile > 0', applies: (c) => touches(c) && anyVmas(c), need: 'floor', expr: 'check.ptlUnlock.entries', ops: ['touch'], why: 'the per-table invariants looked at the entries written under a PTL at its release' },
  {
    rule: 'check-contpte-blocks', when: 'contpte-block or contpte-fold applies', applies: (c) => c.arch === 'contpte' && ((c.batching && contSized([...anonLarge(c), ...fileLarge(c)])) || (!c.batching && contSized(anonLarge(c))) || contSized(fileLarge(c))), need: 'floor', expr: 'check.ptlUnlock.contBlocks', ops: ['touch'], minOps: 2_400,
    why: 'the contpte blocks changed under a PTL were checked at its release',
  },
  { rule: 'check-prot-commit', when: 'mprotect > 0, mmap or mmapfile > 0, touch > 0', applies: (c) => w(c, 'mprotect') > 0 && anyVmas(c) && touches(c), need: 'floor', expr: 'check.protCommit.*', ops: ['mprotect'], minOps: 300, why: 'the ptep_modify_prot_commit contract was checked' },
  { rule: 'check-prot-commit-batch', when: 'arch contpte, batch-mprotect applies', applies: (c) => c.arch === 'contpte' && c.batching && w(c, 'mprotect') > 0 && (anonLarge(c).length > 0 || fileLarge(c).length > 0), need: 'floor', expr: 'check.protCommit.modify_prot_commit_ptes', ops: ['mprotect'], minOps: 1_300, why: 'the contract was checked on arm64\'s batched commit' },
  { rule: 'check-mm-id', when: 'anon-large or file-large applies', applies: (c) => anonLarge(c).length > 0 || fileLarge(c).length > 0, need: 'floor', ops: ['touch'], expr: 'check.mmIdChange.folio_add_return_large_mapcount + check.mmIdChange.folio_sub_return_large_mapcount', minOps: 2_400, why: 'the MM_ID rules were checked as large folios were mapped and unmapped' },
  { rule: 'check-cow-reuse', when: 'cow-reuse applies', applies: (c) => forks(c) && writes(c) && anonVmas(c), need: 'floor', expr: 'check.cowReuse', ops: ['fork', 'forkexit'], minOps: 1_200, why: 'COW reuse was checked' },
  { rule: 'check-folio-free', when: 'touch > 0, mmap or mmapfile > 0', applies: (c) => touches(c) && anyVmas(c), need: 'floor', expr: 'check.folioFree', ops: ['touch'], why: 'freed folios were checked against every TLB' },
  { rule: 'check-writeback', when: 'writeback applies', applies: (c) => c.files.count > 0 && w(c, 'writeback') > 0, need: 'floor', expr: 'check.writeback', ops: ['writeback'], minOps: 150, why: 'the disk oracle ran at writeback' },
  { rule: 'check-folio-cleaned', when: 'writeback-folios applies, files.writenotify is not off', applies: (c) => fileVmas(c) && w(c, 'writeback') > 0 && writes(c) && c.files.writenotify !== 'off', need: 'floor', expr: 'check.folioCleaned', ops: ['writeback'], why: 'folios of write-notify files that writeback cleaned were checked against every TLB; none: no file wants write notification' },
  // arch
  {
    rule: 'contpte-block', when: 'arch contpte, batching, an anon or file order >= 4 applies', applies: (c) => c.arch === 'contpte' && c.batching && contSized([...anonLarge(c), ...fileLarge(c)]), need: 'floor', expr: 'contpte.blocks', ops: ['touch'], minOps: 1_300,
    why: 'set_ptes of large folios mapped whole contpte blocks',
  },
  {
    // batched anon-only mixes (configs/cost-fork.json) fold nothing: set_ptes maps whole blocks cont at once
    rule: 'contpte-fold', when: 'arch contpte, and an anon order >= 4 applies with batching false or a file order >= 4 applies', applies: (c) => c.arch === 'contpte' && ((!c.batching && contSized(anonLarge(c))) || contSized(fileLarge(c))), need: 'floor', expr: 'cost.*.contFold', ops: ['touch'], minOps: 2_400,
    why: 'contpte_try_fold folded blocks filled entry by entry',
  },
  { rule: 'generic-no-cont', when: 'arch generic', applies: (c) => c.arch === 'generic', need: 'zero', expr: 'cost.*.contFold + cost.*.contUnfold + contpte.blocks', why: 'the generic PTE layer has no contiguous bit' },
  // anon-fault fallback policies: the events only one policy emits
  { rule: 'policy-retry-lower', when: 'anonFallback is not retry-lower', applies: (c) => c.anonFallback !== 'retry-lower', need: 'zero', expr: 'anon.retryLower.*', why: 'only retry-lower retries at the next lower order' },
  { rule: 'policy-preferred-or-0', when: 'anonFallback is not preferred-or-0', applies: (c) => c.anonFallback !== 'preferred-or-0', need: 'zero', expr: 'anon.retryOrder0', why: 'only preferred-or-0 retries at order 0' },
  // MADV_COLD and MADV_FREE (bars measured on nightly.json, 40 seeds per variant: the only config that weighs them)
  { rule: 'cold', when: 'cold > 0, mmap or mmapfile > 0', applies: (c) => w(c, 'cold') > 0 && anyVmas(c), need: 'floor', expr: 'madvise.cold', ops: ['cold'], why: 'MADV_COLD ran' },
  { rule: 'free', when: 'free > 0, mmap or mmapfile > 0', applies: (c) => w(c, 'free') > 0 && anyVmas(c), need: 'floor', expr: 'madvise.free', ops: ['free'], why: 'MADV_FREE ran' },
  { rule: 'lazyfree', when: 'free > 0, touch > 0, writeRatio > 0, mmap > 0', applies: (c) => w(c, 'free') > 0 && writes(c) && anonVmas(c), need: 'floor', expr: 'madvise.free.lazyfree', ops: ['free'], minOps: 150, why: 'MADV_FREE made anon folios lazyfree; none: every folio skipped, or MADV_FREE always -EINVAL' },
  { rule: 'batch-cold', when: 'batching, cold > 0, anon-large or file-large applies', applies: (c) => c.batching && w(c, 'cold') > 0 && (anonLarge(c).length > 0 || fileLarge(c).length > 0), need: 'floor', expr: 'madvise.cold.batched', ops: ['cold'], minOps: 200, why: 'MADV_COLD cleared the young bits of large folios as one batch' },
  { rule: 'batch-free', when: 'batching, free > 0, anon-large applies', applies: (c) => c.batching && w(c, 'free') > 0 && anonLarge(c).length > 0, need: 'floor', expr: 'madvise.free.batched', ops: ['free'], minOps: 550, why: 'MADV_FREE made large folios lazyfree as one batch' },
  { rule: 'per-pte-cold', when: 'batching false', applies: (c) => !c.batching, need: 'zero', expr: 'madvise.cold.batched', why: 'the per-PTE reference must not batch MADV_COLD' },
  { rule: 'per-pte-free', when: 'batching false', applies: (c) => !c.batching, need: 'zero', expr: 'madvise.free.batched', why: 'the per-PTE reference must not batch MADV_FREE' },
  { rule: 'check-tlb-cold', when: 'cold > 0, mmap or mmapfile > 0', applies: (c) => w(c, 'cold') > 0 && anyVmas(c), need: 'floor', expr: 'check.tlbSynced.madvise_cold', ops: ['cold'], why: 'TLB coherence was checked at MADV_COLD\'s return' },
  { rule: 'check-tlb-free', when: 'free > 0, mmap or mmapfile > 0', applies: (c) => w(c, 'free') > 0 && anyVmas(c), need: 'floor', expr: 'check.tlbSynced.madvise_free', ops: ['free'], why: 'TLB coherence (no dirty, writable TLB entry over a clean PTE) was checked at MADV_FREE\'s return' },
  {
    rule: 'check-pte-batch', when: 'cold > 0 with mmap or mmapfile > 0, or free > 0 with mmap > 0; touch > 0', applies: (c) => touches(c) && ((w(c, 'cold') > 0 && anyVmas(c)) || (w(c, 'free') > 0 && anonVmas(c))), need: 'floor', expr: 'check.pteBatch.clear_young_dirty_ptes', ops: ['cold', 'free'], minOps: 150,
    why: 'the range clear_young_dirty_ptes wrote was checked against the one it was asked for',
  },
  {
    rule: 'contpte-clear-young-dirty', when: 'arch contpte, cold or free > 0, an anon or file order >= 4 applies', applies: (c) => c.arch === 'contpte' && (w(c, 'cold') > 0 || w(c, 'free') > 0) && contSized([...anonLarge(c), ...fileLarge(c)]), need: 'floor', expr: 'contpte.clearYoungDirty', ops: ['cold', 'free'], minOps: 600,
    why: 'clear_young_dirty_ptes cleared cont blocks in place, without unfolding',
  },
  // migration, reclaim and MADV_PAGEOUT: the rmap walks that hold only the PTL (bars from nightly.json, 60-90 s runs; migrate-zap:
  // 2 in 1,900 migrate ops in the rarest variant, so judged pooled over the variants until a run is long)
  { rule: 'migrate', when: 'migrate > 0, touch > 0, writeRatio > 0, mmap > 0', applies: (c) => w(c, 'migrate') > 0 && writes(c) && anonVmas(c), need: 'floor', expr: 'migrate', ops: ['migrate'], minOps: 300, why: 'move_pages migrated anon folios through migration entries' },
  { rule: 'migrate-zap', when: 'migrate applies, munmap or dontneed > 0', applies: (c) => w(c, 'migrate') > 0 && writes(c) && anonVmas(c) && (w(c, 'munmap') > 0 || w(c, 'dontneed') > 0), need: 'floor', expr: 'zap.migrationEntry', ops: ['migrate'], minOps: 15_000, why: 'zaps met migration entries (a migration racing munmap or MADV_DONTNEED)' },
  // (no floor for fork copying migration entries: 0 in 144 seeds of 5 variants at 90 s; the nightly's forks rarely keep a child: docs/nightly.md)
  { rule: 'check-tlb-migrate', when: 'migrate applies', applies: (c) => w(c, 'migrate') > 0 && writes(c) && anonVmas(c), need: 'floor', expr: 'check.tlbSynced.try_to_migrate_one', ops: ['migrate'], minOps: 300, why: 'TLB coherence was checked as try_to_migrate replaced entries' },
  { rule: 'reclaim-freed', when: 'reclaim > 0, files.count > 0, mmapfile > 0, touch > 0', applies: (c) => w(c, 'reclaim') > 0 && fileVmas(c) && touches(c), need: 'floor', expr: 'reclaim.freed', ops: ['reclaim'], minOps: 100, why: 'reclaim dropped clean page-cache folios' },
  { rule: 'reclaim-unmap', when: 'reclaim-freed applies', applies: (c) => w(c, 'reclaim') > 0 && fileVmas(c) && touches(c), need: 'floor', expr: 'reclaim.unmapped', ops: ['reclaim'], minOps: 100, why: 'try_to_unmap unmapped page-cache folios through the rmap' },
  { rule: 'check-tlb-unmap', when: 'reclaim-freed applies', applies: (c) => w(c, 'reclaim') > 0 && fileVmas(c) && touches(c), need: 'floor', expr: 'check.tlbSynced.try_to_unmap_one', ops: ['reclaim'], minOps: 100, why: 'TLB coherence was checked as try_to_unmap cleared entries' },
  { rule: 'reclaim-pageout', when: 'reclaim-freed applies, writeRatio > 0', applies: (c) => w(c, 'reclaim') > 0 && fileVmas(c) && writes(c), need: 'floor', expr: 'reclaim.pageout', ops: ['reclaim'], minOps: 200, why: 'reclaim wrote dirty page-cache folios back' },
  { rule: 'pageout', when: 'pageout > 0, mmap or mmapfile > 0', applies: (c) => w(c, 'pageout') > 0 && anyVmas(c), need: 'floor', expr: 'madvise.pageout', ops: ['pageout'], why: 'MADV_PAGEOUT ran' },
  { rule: 'lazyfree-discard', when: 'lazyfree applies, reclaim or pageout > 0', applies: (c) => w(c, 'free') > 0 && writes(c) && anonVmas(c) && (w(c, 'reclaim') > 0 || w(c, 'pageout') > 0), need: 'floor', expr: 'reclaim.lazyfreeDiscarded', ops: ['free'], minOps: 300, why: 'reclaim discarded clean lazyfree folios' },
  // VMA merging and mremap's later paths (issue #15)
  { rule: 'vma-merge', when: 'mmap or mmapfile > 0', applies: anyVmas, need: 'floor', expr: 'vma.merge', ops: ['mmap', 'mmapfile', 'mremap', 'mprotect'], minOps: 1_100, why: 'VMAs merged (a mapping next to a compatible one, mprotect back to a neighbour\'s flags, mremap next to or into one); none: every range takes a slot of its own' },
  {
    rule: 'vma-ooo', when: 'mremap > 0, anon-large applies', applies: (c) => w(c, 'mremap') > 0 && anonLarge(c).length > 0, need: 'floor', expr: 'vma.ooo', ops: ['mremap'], minOps: 7_500,
    why: 'a merge left one VMA mapping a large folio\'s pages out of address order (parts of a folio moved apart by mremap, then merged in swapped order), the layout folio_pte_batch\'s PFN check is for; the rarest nightly variant reaches it in 1 seed of 20',
  },
  { rule: 'mremap-fixed-unmap', when: 'mremap > 0, mmap or mmapfile > 0', applies: (c) => w(c, 'mremap') > 0 && anyVmas(c), need: 'floor', expr: 'mremap.unmapTarget', ops: ['mremap'], minOps: 200, why: 'mremap(MREMAP_FIXED) found its target mapped and unmapped it first' },
  { rule: 'mremap-file', when: 'mremap > 0, files.count > 0, mmapfile > 0', applies: (c) => w(c, 'mremap') > 0 && fileVmas(c), need: 'floor', expr: 'mremap.file', ops: ['mremap'], minOps: 150, why: 'mremap moved file mappings' },
  { rule: 'mremap-rmap-locks', when: 'mremap-file applies', applies: (c) => w(c, 'mremap') > 0 && fileVmas(c), need: 'floor', expr: 'mremap.rmapLocks', ops: ['mremap'], minOps: 2_100, why: 'a file mapping moved under the rmap locks (its new i_mmap entry came first in the walk: need_rmap_locks)' },
  { rule: 'check-rmap-move', when: 'mremap-file applies, touch > 0', applies: (c) => w(c, 'mremap') > 0 && fileVmas(c) && touches(c), need: 'floor', expr: 'check.rmapMove', ops: ['mremap'], minOps: 260, why: 'the rmap walk order was checked where a file mapping\'s present entries moved' },
];

/** One variant's seeds and the events they counted. */
export interface VariantCounts {
  /** The variant's label (none: a config without variants). */
  variant?: string;
  /** The config the variant's seeds ran (configForSeed). */
  config: Config;
  seeds: number;
  /**
   * The seeds that ran to their end without a violation (default: all). A seed stops at its first
   * violation, so only these are sure to have run their ops: the expected ops and minSeeds count them.
   */
  cleanSeeds?: number;
  events: Record<string, number>;
}

export interface RuleResult {
  rule: string;
  need: '>0' | '=0';
  expr: string;
  value: number;
  ok: boolean;
}

export interface VariantReach {
  variant?: string;
  seeds: number;
  /** the seeds that ran to their end without a violation, when not all did */
  cleanSeeds?: number;
  judged: boolean;
  /** why the variant was not judged */
  why?: string;
  /** the rules judged, in table order */
  rules: RuleResult[];
  /** the floors whose config allows them but whose driving ops were too few to judge */
  notJudged: { rule: string; why: string }[];
}

/** A failed rule: shaped like summary.json's violations, without seed or artifact (a run-level finding). */
export interface ReachFinding {
  signature: string;
  invariant: string;
  path: string;
  variant?: string;
  details: Record<string, unknown>;
}

export interface ReachSummary {
  /** false: nothing was judged (--no-reach, an unfinished or merged run); why says why */
  judged: boolean;
  why?: string;
  minSeeds: number;
  variants: VariantReach[];
  findings: ReachFinding[];
}

export function reachNotJudged(why: string, minSeeds = DEFAULT_REACH_MIN_SEEDS): ReachSummary {
  return { judged: false, why, minSeeds, variants: [], findings: [] };
}

/** The terms of an expression, each a matcher of event names. */
function terms(expr: string): { text: string; match: (name: string) => boolean }[] {
  return expr.split('+').map((t) => t.trim()).map((text) => {
    if (!/[*>]/.test(text)) return { text, match: (n: string) => n === text };
    const re = new RegExp(`^${text.split('.').map((p) => (p === '*' ? '[^.]+' : p === '>0' ? '[1-9][0-9]*' : p.replace(/[\\^$|?+()[\]{}]/g, '\\$&'))).join('\\.')}$`);
    return { text, match: (n: string) => re.test(n) };
  });
}

/** The value of expr over events, and of each of its terms. */
export function evalExpr(expr: string, events: Record<string, number>): { value: number; terms: Record<string, number> } {
  const out: Record<string, number> = {};
  let value = 0;
  for (const t of terms(expr)) {
    let v = 0;
    for (const [name, n] of Object.entries(events)) if (t.match(name)) v += n;
    out[t.text] = v;
    value += v;
  }
  return { value, terms: out };
}

/** The ops of the given kinds a variant's seeds were expected to run: seeds x cpus x opsPerCpu x their share of the weights. */
export function expectedOps(c: Config, seeds: number, kinds: readonly OpKind[]): number {
  const total = OP_KINDS.reduce((a, k) => a + w(c, k), 0);
  if (!total) return 0;
  return (seeds * c.cpus * c.opsPerCpu * kinds.reduce((a, k) => a + w(c, k), 0)) / total;
}

/** The rules of the table as they apply to config c: per-order rules expanded, the rest as they are. */
export function rulesFor(c: Config): ReachRule[] {
  const out: ReachRule[] = [];
  for (const r of REACH_RULES) {
    if (!r.applies(c)) continue;
    if (r.orders) for (const o of r.orders(c)) out.push({ ...r, rule: r.rule.replace('{o}', String(o)), expr: r.expr.replace('{o}', String(o)), orders: undefined });
    else if (r.kinds) for (const k of r.kinds(c)) out.push({ ...r, rule: r.rule.replace('{k}', k), expr: r.expr.replace('{k}', k), ops: [k], kinds: undefined });
    else out.push(r);
  }
  return out;
}

/**
 * Judge every variant's counts against the rules its config enables. inject: the run's
 * deviations, named in the signatures as a violation's are.
 */
export function judgeReach(variants: readonly VariantCounts[], opts: { minSeeds?: number; inject?: readonly string[] } = {}): ReachSummary {
  const minSeeds = opts.minSeeds ?? DEFAULT_REACH_MIN_SEEDS;
  const inject = opts.inject ?? [];
  const out: VariantReach[] = [];
  const findings: ReachFinding[] = [];
  for (const v of variants) {
    const clean = Math.min(v.cleanSeeds ?? v.seeds, v.seeds);
    const vr: VariantReach = { ...(v.variant !== undefined ? { variant: v.variant } : {}), seeds: v.seeds, ...(clean < v.seeds ? { cleanSeeds: clean } : {}), judged: false, rules: [], notJudged: [] };
    out.push(vr);
    if (clean < minSeeds) {
      vr.why = clean < v.seeds ? `${clean} of its ${v.seeds} seeds ran to their end without a violation, fewer than ${minSeeds}` : `${v.seeds} seed${v.seeds === 1 ? '' : 's'}, fewer than ${minSeeds}`;
      continue;
    }
    vr.judged = true;
    for (const r of rulesFor(v.config)) {
      if (r.need === 'floor' && r.ops) {
        const expected = expectedOps(v.config, clean, r.ops);
        const minOps = r.minOps ?? DEFAULT_MIN_OPS;
        if (expected < minOps) {
          vr.notJudged.push({ rule: r.rule, why: `${Math.floor(expected)} ${r.ops.join('/')} ops expected, fewer than ${minOps}` });
          continue;
        }
      }
      const { value, terms: t } = evalExpr(r.expr, v.events);
      const ok = r.need === 'floor' ? value > 0 : value === 0;
      vr.rules.push({ rule: r.rule, need: r.need === 'floor' ? '>0' : '=0', expr: r.expr, value, ok });
      if (ok) continue;
      findings.push({
        signature: signatureOf(REACH_INVARIANT, r.rule, inject),
        invariant: REACH_INVARIANT,
        path: r.rule,
        ...(v.variant !== undefined ? { variant: v.variant } : {}),
        details: { variant: v.variant ?? v.config.name, seeds: v.seeds, ...(clean < v.seeds ? { cleanSeeds: clean } : {}), expr: r.expr, value, ...(Object.keys(t).length > 1 ? { terms: t } : {}), need: r.need === 'floor' ? '> 0' : '= 0', when: r.when, why: r.why },
      });
    }
  }
  // Pooled: a floor that no variant ran enough ops to judge alone (a short run, a rare op) is
  // judged over every variant it applies to, its counts and expected ops summed. Sound with the
  // same bar: a seed of each variant counts nothing with at most the worst config's probability.
  const pool = new Map<string, { r: ReachRule; expected: number; events: Record<string, number>[]; variants: string[]; judged: boolean }>();
  variants.forEach((v, i) => {
    if (!out[i].judged) return; // too few seeds to judge at all: not pooled either
    const clean = Math.min(v.cleanSeeds ?? v.seeds, v.seeds);
    for (const r of rulesFor(v.config)) {
      if (r.need !== 'floor' || !r.ops) continue;
      let p = pool.get(r.rule);
      if (!p) pool.set(r.rule, (p = { r, expected: 0, events: [], variants: [], judged: false }));
      if (out[i].rules.some((x) => x.rule === r.rule)) p.judged = true;
      p.expected += expectedOps(v.config, clean, r.ops);
      p.events.push(v.events);
      p.variants.push(v.variant ?? v.config.name);
    }
  });
  const pooled: VariantReach = { variant: POOLED, seeds: variants.reduce((a, v) => a + v.seeds, 0), judged: true, rules: [], notJudged: [] };
  for (const p of pool.values()) {
    if (p.judged || p.variants.length < 2) continue;
    const minOps = p.r.minOps ?? DEFAULT_MIN_OPS;
    if (p.expected < minOps) {
      pooled.notJudged.push({ rule: p.r.rule, why: `${Math.floor(p.expected)} ${p.r.ops!.join('/')} ops expected over ${p.variants.length} variants, fewer than ${minOps}` });
      continue;
    }
    let value = 0;
    const t: Record<string, number> = {};
    for (const e of p.events) {
      const x = evalExpr(p.r.expr, e);
      value += x.value;
      for (const [k, n] of Object.entries(x.terms)) t[k] = (t[k] ?? 0) + n;
    }
    const ok = value > 0;
    pooled.rules.push({ rule: p.r.rule, need: '>0', expr: p.r.expr, value, ok });
    if (ok) continue;
    findings.push({
      signature: signatureOf(REACH_INVARIANT, p.r.rule, inject),
      invariant: REACH_INVARIANT,
      path: p.r.rule,
      variant: POOLED,
      details: { variant: POOLED, variants: p.variants, expr: p.r.expr, value, ...(Object.keys(t).length > 1 ? { terms: t } : {}), need: '> 0', when: p.r.when, why: p.r.why },
    });
  }
  if (pooled.rules.length || pooled.notJudged.length) out.push(pooled);
  return { judged: true, minSeeds, variants: out, findings };
}

/** The name of the pseudo-variant the pooled floors are reported under. */
export const POOLED = 'all variants (pooled)';
