// Models the contpte wrappers of arch/arm64/include/asm/pgtable.h (CONFIG_ARM64_CONTPTE): the
// helpers include/linux/pgtable.ts dispatches to when the config says `arch: "contpte"`.
// Not implemented yet: the config schema does not accept "contpte" until they are (issue #4).
import type { Cpu } from '../../../../engine/cpu.js';
import type { Gen } from '../../../../engine/gen.js';

function missing(name: string): never {
  throw new Error(`arch contpte: ${name} is not implemented yet`);
}
export function ptep_get(_cpu: Cpu, _ptep: number): number {
  return missing('ptep_get');
}
// eslint-disable-next-line require-yield
export function* set_ptes(_cpu: Cpu, _ptep: number, _pte: number, _nr: number): Gen<void> {
  missing('set_ptes');
}
// eslint-disable-next-line require-yield
export function* ptep_get_and_clear(_cpu: Cpu, _ptep: number): Gen<number> {
  return missing('ptep_get_and_clear');
}
// eslint-disable-next-line require-yield
export function* get_and_clear_full_ptes(_cpu: Cpu, _ptep: number, _nr: number, _full: boolean): Gen<number> {
  return missing('get_and_clear_full_ptes');
}
// eslint-disable-next-line require-yield
export function* clear_full_ptes(_cpu: Cpu, _ptep: number, _nr: number, _full: boolean): Gen<void> {
  missing('clear_full_ptes');
}
// eslint-disable-next-line require-yield
export function* wrprotect_ptes(_cpu: Cpu, _ptep: number, _nr: number): Gen<void> {
  missing('wrprotect_ptes');
}
// eslint-disable-next-line require-yield
export function* ptep_set_access_flags(_cpu: Cpu, _ptep: number, _entry: number): Gen<boolean> {
  return missing('ptep_set_access_flags');
}
