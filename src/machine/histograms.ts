// Latency histograms (HdrHistogram): one set per simulated CPU, merged by addition across CPUs,
// workers and shards, never by averaging percentiles.
import * as hdr from 'hdr-histogram-js';

export type Unit = 'steps' | 'ns';

export interface HistSummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  unit: Unit;
}

/** The parts of hdr-histogram-js's JsHistogram that its own recordSingleValue uses. */
interface HdrInternals {
  subBucketHalfCountMagnitude: number;
  unitMagnitude: number;
  subBucketHalfCount: number;
  countsArrayLength: number;
  incrementCountAtIndex(index: number): void;
  updateMinAndMax(value: number): void;
  incrementTotalCount(): void;
}

/**
 * h.recordValue(v) for an integer v >= 0: what hdr-histogram-js's recordSingleValue does, with its
 * counts index (max(floor(log2 v) - m - u, 0) = bucket b; (b + 1) * 2^m + floor(v / 2^(b + u)) - 2^m / 2)
 * computed in 32-bit integers (clz32, shifts) rather than with Math.log2, pow and floor, which
 * were most of the cost of a record. The same index for every v below 2^31 (test/report/histograms
 * checks it against recordValue); larger values, and values that need the counts array to grow, go
 * through recordValue itself.
 */
export function recordFast(h: hdr.Histogram, v: number): void {
  if (v < 0x80000000) {
    const x = h as unknown as HdrInternals;
    const m = x.subBucketHalfCountMagnitude, u = x.unitMagnitude;
    const b = Math.max(31 - Math.clz32(v) - m - u, 0);
    const i = ((b + 1) << m) + (v >>> (b + u)) - x.subBucketHalfCount;
    if (i < x.countsArrayLength) {
      x.incrementCountAtIndex(i);
      x.updateMinAndMax(v);
      x.incrementTotalCount();
      return;
    }
  }
  h.recordValue(v);
}

/** An empty histogram of the one shape every set uses (exported for the tool's sums, src/report/batch-means.ts). */
export function newHist(): hdr.Histogram {
  return hdr.build({ bitBucketSize: 64, autoResize: true, lowestDiscernibleValue: 1, highestTrackableValue: 2, numberOfSignificantValueDigits: 3, useWebAssembly: false });
}

export class HistSet {
  readonly unit: Unit;
  private readonly h = new Map<string, hdr.Histogram>();
  constructor(unit: Unit) {
    this.unit = unit;
  }
  record(name: string, value: number): void {
    let x = this.h.get(name);
    if (!x) {
      x = newHist();
      this.h.set(name, x);
    }
    recordFast(x, value < 0 ? 0 : Math.round(value));
  }
  get(name: string): hdr.Histogram | undefined {
    return this.h.get(name);
  }
  names(): string[] {
    return [...this.h.keys()].sort();
  }
  /** Add every histogram of other into this one (HdrHistogram addition). */
  add(other: HistSet): void {
    for (const [k, v] of other.h) this.histogram(k).add(v);
  }
  /**
   * Add every histogram of an encoded set into this one, and into each of also (a run's total and
   * the seed's group): decode(e) then add(), each histogram decoded once, without the copies
   * decode() makes.
   */
  addEncoded(e: EncodedHists, ...also: HistSet[]): void {
    for (const [k, b64] of Object.entries(e.h)) {
      const d = hdr.decodeFromCompressedBase64(b64, 64, false);
      for (const s of [this, ...also]) s.histogram(k).add(d);
    }
  }
  /** The histogram name, created empty if absent. */
  private histogram(name: string): hdr.Histogram {
    let x = this.h.get(name);
    if (!x) {
      x = newHist();
      this.h.set(name, x);
    }
    return x;
  }
  /** Serialisable form (compressed base64 per histogram) for crossing worker boundaries. */
  encode(): EncodedHists {
    const out: Record<string, string> = {};
    for (const k of this.names()) out[k] = hdr.encodeIntoCompressedBase64(this.h.get(k)!);
    return { unit: this.unit, h: out };
  }
  static decode(e: EncodedHists): HistSet {
    const s = new HistSet(e.unit);
    for (const [k, b64] of Object.entries(e.h)) {
      const x = newHist();
      x.add(hdr.decodeFromCompressedBase64(b64, 64, false));
      s.h.set(k, x);
    }
    return s;
  }
  summary(name: string): HistSummary {
    const x = this.h.get(name)!;
    return { count: x.totalCount, p50: x.getValueAtPercentile(50), p90: x.getValueAtPercentile(90), p99: x.getValueAtPercentile(99), max: x.maxValue, unit: this.unit };
  }
  summaries(): Record<string, HistSummary> {
    const out: Record<string, HistSummary> = {};
    for (const k of this.names()) out[k] = this.summary(k);
    return out;
  }
  /** The classic .hgrm percentile distribution text. */
  hgrm(name: string): string {
    return this.h.get(name)!.outputPercentileDistribution(5, 1);
  }
}


export interface EncodedHists {
  unit: Unit;
  h: Record<string, string>;
}
