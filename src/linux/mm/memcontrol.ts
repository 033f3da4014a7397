// Models the memory cgroup charge of mm/memcontrol.c: mem_cgroup_charge(), the one place an order-0
// allocation of a user fault or of fork may fail while memory is free (the cgroup is at its limit;
// the page allocator itself does not fail order 0: "too small to fail"). The model has no cgroups:
// the charge fails at the config's memcgFailRate, drawn per charge from the CPU's own seeded stream.
import type { Cpu } from '../../machine/cpu.js';
import type { Gen } from '../../machine/gen.js';
import { EV } from '../../machine/events.js';
import { CPU } from '../../machine/layout.js';
import { alloc_folio } from './page_alloc.js';
import { folio_put } from './swap.js';

/**
 * mem_cgroup_charge(): charge a new folio to the mm's memory cgroup; 0, or -ENOMEM when the cgroup
 * is at its limit and reclaim cannot make room (cfg.memcgFailRate; absent: never, and no draw).
 * Deliberate difference: nothing is charged or uncharged; only the failure is modelled.
 */
export function mem_cgroup_charge(cpu: Cpu, _folio: number): number {
  if (!cpu.memcgChargeFails()) return 0;
  cpu.counters[EV.MEMCG_CHARGE_FAIL]++;
  // the allocation failed as far as its caller can tell (folio_prealloc returns NULL): counted
  // with the allocator's failures (memcg_memory_event(MEMCG_OOM) in the kernel), which is what
  // lets a VM_FAULT_OOM or a failed pin be told from a path that gave up without trying
  Atomics.add(cpu.m, cpu.machine.cpuWord(cpu.id, CPU.ALLOC_FAILS), 1);
  return -12;
}

/**
 * folio_prealloc() (mm/memory.c): an order-0 folio for a fault's copy or fork's copy of a pinned
 * page, charged to the cgroup; -1 if the allocation or the charge failed (the folio put back).
 */
export function* folio_prealloc(cpu: Cpu): Gen<number> {
  const folio = yield* alloc_folio(cpu, 0);
  if (folio < 0) return -1;
  if (mem_cgroup_charge(cpu, folio)) {
    yield* folio_put(cpu, folio);
    return -1;
  }
  return folio;
}
