// The one source of randomness: a seeded stream per (root seed, label). Everything random in a
// run (programs, schedulers, allocation failures) draws from a stream named here, never Math.random.
import seedrandom from 'seedrandom';

export function rng(seed: number, label: string): () => number {
  return seedrandom.alea(`${seed}/${label}`);
}
