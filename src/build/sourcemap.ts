// Source maps for the threads build (src/build/strip-generators.ts): the stripped copy of a compiled
// file is printed anew, so its lines and columns are not the compiled file's. Its map (stripped ->
// compiled, from the printer) composed with tsc's (compiled -> src/*.ts) maps the stripped code
// straight back to the TypeScript source: a stack trace from a threads CPU, and coverage of the code
// the threads engine runs (npm run coverage), then name src/ lines. Version 3 maps only, as tsc writes
// them (no sections); written here (about 80 lines) rather than taken from a package, since the build
// runs at install time (npm's prepare) with the runtime dependencies alone.

/** A version 3 source map, as tsc writes it. */
export interface RawSourceMap {
  version: 3;
  file?: string;
  sourceRoot?: string;
  sources: string[];
  sourcesContent?: (string | null)[];
  names: string[];
  mappings: string;
}

/**
 * One mapping: [generated column], or [generated column, source index, source line, source column]
 * with a name index after them when it has one (all 0-based).
 */
export type Segment = number[];

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Map([...B64].map((c, i) => [c, i]));

/** The mappings string decoded: per generated line, its segments with absolute values. */
export function decodeMappings(mappings: string): Segment[][] {
  const lines: Segment[][] = [];
  let src = 0, srcLine = 0, srcCol = 0, name = 0;
  for (const line of mappings.split(';')) {
    const segs: Segment[] = [];
    let genCol = 0; // resets on each line; the others carry over
    for (const s of line.split(',')) {
      if (!s) continue;
      const v: number[] = [];
      let shift = 0, value = 0;
      for (const c of s) {
        const d = B64_INDEX.get(c);
        if (d === undefined) throw new Error(`source map: bad character ${JSON.stringify(c)} in mappings`);
        value += (d & 31) << shift;
        if (d & 32) shift += 5;
        else {
          v.push(value & 1 ? -(value >>> 1) : value >>> 1);
          shift = value = 0;
        }
      }
      genCol += v[0];
      if (v.length >= 4) {
        src += v[1]; srcLine += v[2]; srcCol += v[3];
        if (v.length >= 5) {
          name += v[4];
          segs.push([genCol, src, srcLine, srcCol, name]);
        } else segs.push([genCol, src, srcLine, srcCol]);
      } else segs.push([genCol]);
    }
    lines.push(segs);
  }
  return lines;
}

function vlq(n: number): string {
  let v = n < 0 ? (-n << 1) | 1 : n << 1;
  let out = '';
  do {
    let d = v & 31;
    v >>>= 5;
    if (v) d |= 32;
    out += B64[d];
  } while (v);
  return out;
}

/** The inverse of decodeMappings. */
export function encodeMappings(lines: Segment[][]): string {
  let src = 0, srcLine = 0, srcCol = 0, name = 0;
  return lines.map((segs) => {
    let genCol = 0;
    return segs.map((s) => {
      let out = vlq(s[0] - genCol);
      genCol = s[0];
      if (s.length >= 4) {
        out += vlq(s[1] - src) + vlq(s[2] - srcLine) + vlq(s[3] - srcCol);
        src = s[1];
        srcLine = s[2];
        srcCol = s[3];
        if (s.length === 5) {
          out += vlq(s[4] - name);
          name = s[4];
        }
      }
      return out;
    }).join(',');
  }).join(';');
}

/**
 * outer maps a generated file to one source (an intermediate file); inner maps that intermediate
 * file to its own sources. The result maps the generated file to inner's sources: each of outer's
 * segments takes the position of inner's last segment at or before its intermediate position on
 * that line (a segment with nothing there is dropped). Names are not kept.
 */
export function composeMaps(outer: RawSourceMap, inner: RawSourceMap): RawSourceMap {
  const innerLines = decodeMappings(inner.mappings);
  const lines = decodeMappings(outer.mappings).map((segs) => {
    const out: Segment[] = [];
    for (const s of segs) {
      if (s.length < 4) continue;
      const row = innerLines[s[2]];
      if (!row?.length) continue;
      // the last inner segment whose column is <= s[3] (segments are sorted by column)
      let lo = 0, hi = row.length - 1, hit = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (row[mid][0] <= s[3]) {
          hit = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      const t = hit >= 0 ? row[hit] : null;
      if (!t || t.length < 4) continue;
      const prev = out[out.length - 1];
      if (prev && prev[0] === s[0]) continue; // one mapping per generated column
      out.push([s[0], t[1], t[2], t[3]]);
    }
    return out;
  });
  return { version: 3, file: outer.file, sources: [...inner.sources], ...(inner.sourcesContent ? { sourcesContent: [...inner.sourcesContent] } : {}), names: [], mappings: encodeMappings(lines) };
}

/** The map shifted down by n generated lines (lines put in front of the generated code). */
export function prependLines(map: RawSourceMap, n: number): RawSourceMap {
  return { ...map, mappings: ';'.repeat(n) + map.mappings };
}
