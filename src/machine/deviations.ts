// The deviation flags the kernel code reads: each named deviation (a mutant of a kernel
// algorithm, `--inject NAME`) is one boolean the modelled path tests where it deviates. The
// catalogue (description, provoking mix, expected invariants) is the tool's, src/inject/deviations.ts.

export interface Injections {
  faultNoRecheck: boolean;
  faultOrder1: boolean;
  faultRefcountLate: boolean;
  faultUnaligned: boolean;
  faultPastVma: boolean;
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
  rmapRemoveOffByOne: boolean;
  zapBatchNotReset: boolean;
  migrateNoFlush: boolean;
  migrateIgnorePins: boolean;
  forkMigrationWritable: boolean;
  reclaimUnmapNoDirty: boolean;
  lazyfreeIgnoreRefs: boolean;
  cydLengthBytes: boolean;
  freeTlbOneEntry: boolean;
  mremapRmapUnlocked: boolean;
  vmaMergePgoff: boolean;
  unshareCopyClean: boolean;
}

/** Deviation name (as `foliostorm bugs` lists it) -> its flag. */
export const DEVIATION_FLAGS: Readonly<Record<string, keyof Injections>> = {
  'fault-no-recheck': 'faultNoRecheck',
  'fault-order1': 'faultOrder1',
  'fault-refcount-late': 'faultRefcountLate',
  'fault-unaligned': 'faultUnaligned',
  'fault-past-vma': 'faultPastVma',
  'zap-free-before-flush': 'zapFreeBeforeFlush',
  'fork-mapcount-before-ref': 'forkMapcountBeforeRef',
  'fork-dup-pinned': 'forkDupPinned',
  'fork-no-merge-write': 'forkNoMergeWrite',
  'batch-past-folio-end': 'batchPastFolioEnd',
  'batch-past-table': 'batchPastTable',
  'cow-reuse-shared': 'cowReuseShared',
  'zap-first-pte-dirty': 'zapFirstPteDirty',
  'zap-clear-without-get': 'zapClearWithoutGet',
  'writeback-no-flush': 'writebackNoFlush',
  'prot-start-first-only': 'protStartFirstOnly',
  'prot-commit-stale-old': 'protCommitStaleOld',
  'prot-exclusive-from-head': 'protExclusiveFromHead',
  'contpte-fold-first-only': 'contpteFoldFirstOnly',
  'contpte-no-unfold': 'contpteNoUnfold',
  'rmap-remove-off-by-one': 'rmapRemoveOffByOne',
  'zap-batch-not-reset': 'zapBatchNotReset',
  'migrate-no-flush': 'migrateNoFlush',
  'migrate-ignore-pins': 'migrateIgnorePins',
  'fork-migration-writable': 'forkMigrationWritable',
  'reclaim-unmap-no-dirty': 'reclaimUnmapNoDirty',
  'lazyfree-ignore-refs': 'lazyfreeIgnoreRefs',
  'cyd-length-bytes': 'cydLengthBytes',
  'free-tlb-one-entry': 'freeTlbOneEntry',
  'mremap-rmap-unlocked': 'mremapRmapUnlocked',
  'vma-merge-pgoff': 'vmaMergePgoff',
  'unshare-copy-clean': 'unshareCopyClean',
};

/** The flags for the named deviations; an unknown name is an error. */
export function injectionsFrom(names: readonly string[]): Injections {
  const inj = Object.fromEntries(Object.values(DEVIATION_FLAGS).map((k) => [k, false])) as unknown as Record<keyof Injections, boolean>;
  for (const n of names) {
    const k = DEVIATION_FLAGS[n];
    if (k === undefined) throw new Error(`unknown deviation "${n}" (see: foliostorm bugs)`);
    inj[k] = true;
  }
  return inj;
}
