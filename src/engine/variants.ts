// Model variants (config `variants`): one run covers several arches, fallback policies or batching
// modes by giving each seed one of them. Seed s runs variant s mod V, whatever the first seed or
// the slice of the seed space a machine runs, so a seed always names the same model. The engines
// apply it at the start of a seed (runSched, a threads round): a seed's run is byte for byte the
// run of its effective config, the one its artifact records (with no `variants` left in it).
import type { Config, Variant } from '../config/config.js';

/** The index of the variant seed runs, or null for a config without variants. */
export function variantIndex(cfg: Config, seed: number): number | null {
  const n = cfg.variants?.length ?? 0;
  return n ? ((seed % n) + n) % n : null;
}

/** A variant's label: its name, else the values it sets ("contpte+retry-lower", "generic+nobatch"). */
export function variantLabel(v: Variant): string {
  if (v.name) return v.name;
  const parts: string[] = [];
  if (v.arch) parts.push(v.arch);
  if (v.anonFallback) parts.push(v.anonFallback);
  if (v.batching !== undefined) parts.push(v.batching ? 'batch' : 'nobatch');
  if (v.anonOrders) parts.push(`orders${v.anonOrders.join('.')}`);
  if (v.fragmentation !== undefined) parts.push(`frag${v.fragmentation}`);
  if (v.allocFailRate !== undefined) parts.push(`allocfail${v.allocFailRate}`);
  if (v.memcgFailRate !== undefined) parts.push(`memcgfail${v.memcgFailRate}`);
  if (v.mmapPages) parts.push(`mmap${v.mmapPages.min}-${v.mmapPages.max}`);
  return parts.join('+') || 'base';
}

/** The label of the variant seed runs, or undefined without variants. */
export function variantOf(cfg: Config, seed: number): string | undefined {
  const i = variantIndex(cfg, seed);
  return i === null ? undefined : variantLabel(cfg.variants![i]);
}

/**
 * The config seed runs: cfg itself without variants (the same object, so nothing about the run
 * changes), else cfg with its variant's fields laid over it, `variants` dropped and the name
 * extended with the variant's label ("nightly/contpte+retry-lower").
 */
export function configForSeed(cfg: Config, seed: number): Config {
  const i = variantIndex(cfg, seed);
  if (i === null) return cfg;
  const { variants, ...base } = cfg;
  const { name: _name, ...fields } = variants![i];
  const set = Object.fromEntries(Object.entries(fields).filter(([, x]) => x !== undefined));
  return { ...base, ...set, name: `${cfg.name}/${variantLabel(variants![i])}` };
}
