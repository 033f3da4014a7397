// The parameters the machine and the kernel on it are built with: the page-table geometry of a
// 4K-page kernel, and what of the run's config the hardware and the kernel code read (the tool's
// Config, src/config.ts, is checked to satisfy MachineConfig at compile time).

/** PMD_ORDER on a 4K-page kernel: one PTE table maps 2^9 pages = 2 MiB. */
export const PMD_ORDER = 9;
export const PTRS_PER_PTE = 1 << PMD_ORDER;

/** What do_anonymous_page does when the PTL recheck finds the range no longer none. */
export const ANON_FALLBACKS = ['refault', 'retry-lower', 'preferred-or-0'] as const;
export type AnonFallback = (typeof ANON_FALLBACKS)[number];

/** Write notification of the modelled files: on (disk filesystems), off (tmpfs), both (odd files on). */
export const WRITENOTIFY = ['both', 'on', 'off'] as const;
export type WriteNotify = (typeof WRITENOTIFY)[number];

/**
 * The kernel version whose behaviour the model follows where versions differ (issue 16's kernel
 * profiles): "mainline", the default, is the newest the model follows (torvalds/linux as read for
 * it); "6.12" is Linux 6.12, the kernel `conform` boots. Each switch cites the change.
 */
export const KERNEL_PROFILES = ['mainline', '6.12'] as const;
export type KernelProfile = (typeof KERNEL_PROFILES)[number];

export const ARCHES = ['generic', 'contpte'] as const;
export type Arch = (typeof ARCHES)[number];

/** The config fields the machine and the kernel layer read. */
export interface MachineConfig {
  readonly arch: Arch;
  readonly batching: boolean;
  readonly cpus: number;
  readonly processes: number;
  readonly memoryPages: number;
  readonly fragmentation: number;
  readonly allocFailRate?: number;
  readonly memcgFailRate?: number;
  readonly vaSize: number;
  readonly maxVmas: number;
  readonly tlbEntries: number;
  readonly anonOrders: readonly number[];
  readonly anonFallback: AnonFallback;
  /** Absent: mainline. */
  readonly kernel?: KernelProfile;
  readonly files: { readonly count: number; readonly pages: number; readonly orders: readonly number[]; readonly writenotify: WriteNotify };
  readonly refaultLimit: number;
  readonly stepLimit: number;
  readonly lockHoldLimitSteps: number;
  readonly lockWaitLimitMs: number;
  readonly interleaveSpins?: number;
  /** The named deviations switched on (machine/deviations.ts turns them into flags). */
  readonly inject: readonly string[];
  readonly seed: number;
  /** Only whether the forkexit op can run: it needs a spare mm slot for its short-lived children (machine/layout.ts). */
  readonly weights: { readonly forkexit?: number };
  readonly ringSize: number;
}
