// Piscina task of `foliostorm experiment fallback`: one seed of one cell in the sched engine.
import { runFallbackSeed, type SeedResult, type SeedTask } from '../src/experiment/fallback.js';

export default function fallbackTask(t: SeedTask): SeedResult {
  return runFallbackSeed(t);
}
