// Failure artifacts written as each seed's violations arrive, not at the end of the run: a run
// killed outright (a second Ctrl-C, SIGKILL, a crash) keeps every artifact found so far. The set
// kept is the same as writing them all at the end in seed order: per signature the smallest
// ARTIFACTS_PER_SIGNATURE seeds (seeds finish out of order: a smaller one displaces a larger one).
import type { Config } from '../config/config.js';
import type { ViolationRecord } from '../engine/result.js';
import { ARTIFACTS_PER_SIGNATURE, type ResultsWriter } from './results.js';

export class LiveArtifacts {
  /** Per signature, the violations whose artifact is kept, by ascending seed. */
  private readonly kept = new Map<string, ViolationRecord[]>();

  /** configOf: the config the violation's seed ran (a config with variants: that seed's variant). */
  constructor(private readonly w: ResultsWriter, private readonly configOf: (v: ViolationRecord) => Config) {}

  /** Write v's artifact if its seed is among the smallest of its signature so far (sets v.artifact). */
  add(v: ViolationRecord): void {
    const list = this.kept.get(v.signature) ?? [];
    this.kept.set(v.signature, list);
    if (list.some((k) => k.seed === v.seed)) return; // one artifact per seed and signature
    if (list.length >= ARTIFACTS_PER_SIGNATURE && v.seed > list[list.length - 1].seed) return;
    this.w.writeArtifact(this.configOf(v), v);
    list.push(v);
    list.sort((a, b) => a.seed - b.seed);
    if (list.length > ARTIFACTS_PER_SIGNATURE) this.w.removeArtifact(list.pop()!);
  }
}
