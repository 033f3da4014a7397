// The part of a config that decides what a sched seed does: the text its trace hash starts from.
import type { Config } from '../config/config.js';

/**
 * Config fields that say how a run is organised, not what a seed does: which seeds, how long, how
 * many workers, names, the hang watchdog. A seed's trace hash leaves them out, so seed 42 hashes
 * the same alone, in a run of 5000 seeds, in shard 3/4 or under another config name.
 */
const RUN_FIELDS = ['name', 'comment', 'seed', 'seeds', 'duration', 'workers', 'workerHangMs', 'variants', 'canarySeeds'] as const;

/** The part of cfg that decides a sched run, as the text the trace hash starts from. */
export function modelKey(cfg: Config): string {
  const model: Record<string, unknown> = { ...cfg };
  for (const k of RUN_FIELDS) delete model[k];
  return JSON.stringify(model);
}
