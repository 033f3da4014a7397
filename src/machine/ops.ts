// The kinds of operation a simulated CPU runs (the workload draws them; a CPU's CPU.OP word holds
// the running one's code for hang reports, src/diag/op-codes.ts).
export type OpKind = 'touch' | 'mmap' | 'munmap' | 'dontneed' | 'exit' | 'fork' | 'pin' | 'unpin' | 'pinio' | 'mremap' | 'dontfork' | 'mmapfile' | 'writeback' | 'mprotect' | 'forkexit' | 'migrate' | 'reclaim' | 'cold' | 'free' | 'pageout';
// New kinds go at the end: an op is drawn by its cumulative weight, so appending keeps the draws
// of the existing kinds wherever the new kind's weight is 0.
export const OP_KINDS: readonly OpKind[] = ['touch', 'mmap', 'munmap', 'dontneed', 'exit', 'fork', 'pin', 'unpin', 'pinio', 'mremap', 'dontfork', 'mmapfile', 'writeback', 'mprotect', 'forkexit', 'migrate', 'reclaim', 'cold', 'free', 'pageout'];
