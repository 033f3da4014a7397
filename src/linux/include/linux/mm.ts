// Models the folio helpers of include/linux/mm.h that the fork and GUP paths share.
import type { Machine } from '../../../machine/machine.js';

/** GUP_PIN_COUNTING_BIAS: a pin on a small folio adds this to its refcount. */
export const GUP_PIN_COUNTING_BIAS = 1024;

/**
 * folio_maybe_dma_pinned(): large folios keep an exact pin count; a small folio is "maybe pinned"
 * when its refcount reaches the bias (false positives are allowed, false negatives are not).
 */
export function folio_maybe_dma_pinned(machine: Machine, folio: number): boolean {
  const { m, L } = machine;
  if (Atomics.load(m, L.fOrder + folio) > 0) return Atomics.load(m, L.fPin + folio) > 0;
  return Atomics.load(m, L.fRef + folio) >= GUP_PIN_COUNTING_BIAS;
}
