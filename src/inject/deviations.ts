// The catalogue of named deviations from the kernel algorithm (mutants). `--inject NAME` switches
// one on; each must be caught by the checker (see test/inject/). Kernel paths read the flags below.
import type { ConfigInput } from '../config.js';

export interface Deviation {
  name: string;
  path: string;
  description: string;
  /** The config mix (overrides of the defaults) that provokes it: what the hunt and the seed sweeps run. */
  provoke?: ConfigInput;
}

export const DEVIATIONS: readonly Deviation[] = [
  { name: 'fault-no-recheck', path: 'do_anonymous_page', description: 'trust the lockless scan: no pte_range_none/vmf_pte_changed recheck under the PTL' },
  { name: 'fault-order1', path: 'alloc_anon_folio', description: 'allow order-1 anon folios' },
  { name: 'fault-refcount-late', path: 'do_anonymous_page', description: 'raise mapcounts and set PTEs before taking the extra folio references' },
  { name: 'zap-free-before-flush', path: 'zap_pte_range', description: 'drop folio references before the TLB flush' },
  { name: 'fork-mapcount-before-ref', path: 'copy_present_ptes', description: 'raise mapcounts before taking the folio references' },
  { name: 'fork-dup-pinned', path: 'folio_try_dup_anon_rmap_ptes', description: 'share a maybe-pinned batch with the child instead of backing off to copying' },
  { name: 'fork-no-merge-write', path: 'copy_present_ptes', description: 'decide write-protection from the first PTE of the batch only' },
  { name: 'batch-past-folio-end', path: 'folio_pte_batch', description: "no cap at the folio's last page" },
  { name: 'batch-past-table', path: 'zap_present_ptes/copy_present_ptes', description: 'no cap at the PTE table or VMA end' },
  { name: 'contpte-fold-first-only', path: '__contpte_try_fold', description: 'fold a contpte block after checking only its first entry (not all 16)' },
  { name: 'contpte-no-unfold', path: 'set_ptes/ptep_get_and_clear/clear_full_ptes/wrprotect_ptes/ptep_set_access_flags', description: 'change a single entry of a contpte block without unfolding the block first' },
  { name: 'cow-reuse-shared', path: 'do_wp_page', description: 'reuse a page that is not AnonExclusive (nor provably this mm\'s alone)' },
  { name: 'zap-first-pte-dirty', path: 'zap_present_ptes', description: 'for a file folio, take dirty/young from the first entry of the batch only' },
  { name: 'zap-clear-without-get', path: 'zap_present_ptes', description: 'clear file PTEs without reading their dirty/young bits (clear_full_ptes, as for anon)' },
  { name: 'writeback-no-flush', path: 'page_vma_mkclean_one', description: 'write-protect and clean PTEs without flushing the TLBs' },
  { name: 'prot-start-first-only', path: 'modify_prot_start_ptes', description: 'return the young/dirty bits of the first entry only, not of every entry of the batch' },
  { name: 'prot-commit-stale-old', path: 'modify_prot_commit_ptes', description: "hand every entry the first entry's old PTE (old_pte's PFN not advanced)" },
  { name: 'prot-exclusive-from-head', path: 'commit_anon_folio_batch', description: "decide the writable upgrade of the whole batch from the folio's head page, not per AnonExclusive sub-batch" },
];

export interface Injections {
  faultNoRecheck: boolean;
  faultOrder1: boolean;
  faultRefcountLate: boolean;
  zapFreeBeforeFlush: boolean;
  forkMapcountBeforeRef: boolean;
  forkDupPinned: boolean;
  forkNoMergeWrite: boolean;
  batchPastFolioEnd: boolean;
  batchPastTable: boolean;
  cowReuseShared: boolean;
  zapFirstPteDirty: boolean;
  zapClearWithoutGet: boolean;
  writebackNoFlush: boolean;
  protStartFirstOnly: boolean;
  protCommitStaleOld: boolean;
  protExclusiveFromHead: boolean;
  contpteFoldFirstOnly: boolean;
  contpteNoUnfold: boolean;
}

export function injectionsFrom(names: readonly string[]): Injections {
  for (const n of names) if (!DEVIATIONS.some((d) => d.name === n)) throw new Error(`unknown deviation "${n}" (see: foliostorm bugs)`);
  const on = (n: string) => names.includes(n);
  return {
    faultNoRecheck: on('fault-no-recheck'),
    faultOrder1: on('fault-order1'),
    faultRefcountLate: on('fault-refcount-late'),
    zapFreeBeforeFlush: on('zap-free-before-flush'),
    forkMapcountBeforeRef: on('fork-mapcount-before-ref'),
    forkDupPinned: on('fork-dup-pinned'),
    forkNoMergeWrite: on('fork-no-merge-write'),
    batchPastFolioEnd: on('batch-past-folio-end'),
    batchPastTable: on('batch-past-table'),
    cowReuseShared: on('cow-reuse-shared'),
    zapFirstPteDirty: on('zap-first-pte-dirty'),
    zapClearWithoutGet: on('zap-clear-without-get'),
    writebackNoFlush: on('writeback-no-flush'),
    protStartFirstOnly: on('prot-start-first-only'),
    protCommitStaleOld: on('prot-commit-stale-old'),
    protExclusiveFromHead: on('prot-exclusive-from-head'),
    contpteFoldFirstOnly: on('contpte-fold-first-only'),
    contpteNoUnfold: on('contpte-no-unfold'),
  };
}
