// The tool's side of the trace hash (src/engine/trace-hash.ts): strings mixed in and the text form,
// against values the former TraceHash.mixString/hex gave (src/machine/trace.ts before they moved),
// so every recorded trace hash still reads the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TraceHash } from '../../src/machine/trace.js';
import { mixString, traceHex } from '../../src/engine/trace-hash.js';

test('traceHex: both lanes as 16 hex digits, zero-padded, lane 1 first; mixString mixes each code unit in order', () => {
  const h = new TraceHash();
  assert.equal(traceHex(h), '811c9dc501000193');
  mixString(h, 'foliostorm');
  h.mix(42);
  h.mix4(1, -2, 3, 0x7fffffff);
  assert.equal(traceHex(h), '646f108a6b0de127');
  const g = new TraceHash();
  g.mix(-1);
  assert.equal(traceHex(g), 'f9f3a14ef77a2ff9', 'negative lanes read unsigned');
  // a lane whose value has leading zero digits keeps them
  const z = new TraceHash();
  z.h1 = 0x00ab;
  z.h2 = 0;
  assert.equal(traceHex(z), '000000ab00000000');
  // mixString is the mix of each code unit
  const a = new TraceHash(), b = new TraceHash();
  mixString(a, 'ab');
  b.mix(97);
  b.mix(98);
  assert.equal(traceHex(a), traceHex(b));
  assert.notEqual(traceHex(a), (() => { const c = new TraceHash(); mixString(c, 'ba'); return traceHex(c); })());
});
