// Trace hash of a sched run: a 64-bit FNV-1a style mix (two 32-bit lanes) over every scheduling
// choice and every event, so two runs with the same seed and config can be compared byte for byte.
// Only the mixing is here (Cpu.ev mixes each event); the tool mixes in strings and writes the hash
// as text (src/engine/trace-hash.ts).

export class TraceHash {
  /** The two lanes, read by the tool's text form (src/engine/trace-hash.ts traceHex). */
  h1 = 0x811c9dc5 | 0;
  h2 = 0x01000193 | 0;
  mix(x: number): void {
    this.h1 = Math.imul(this.h1 ^ (x | 0), 0x01000193);
    this.h2 = Math.imul(this.h2 ^ ((x | 0) + 0x9e3779b9), 0x85ebca6b) ^ (this.h2 >>> 13);
  }
  mix4(a: number, b: number, c: number, d: number): void {
    this.mix(a);
    this.mix(b);
    this.mix(c);
    this.mix(d);
  }
}
