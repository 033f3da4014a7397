// The tool's side of the trace hash (src/machine/trace.ts mixes numbers; the machine's events go
// in there): strings mixed in (the model key, violation signatures, seeds' hashes) and the text form
// summaries, artifacts and comparisons carry.
import type { TraceHash } from '../machine/trace.js';

/** Mix each UTF-16 code unit of s into h, in order. Moved from TraceHash.mixString (src/machine/trace.ts). */
export function mixString(h: TraceHash, s: string): void {
  for (let i = 0; i < s.length; i++) h.mix(s.charCodeAt(i));
}

/** The hash as 16 lowercase hex digits, lane 1 then lane 2. Moved from TraceHash.hex (src/machine/trace.ts). */
export function traceHex(h: TraceHash): string {
  return (h.h1 >>> 0).toString(16).padStart(8, '0') + (h.h2 >>> 0).toString(16).padStart(8, '0');
}
