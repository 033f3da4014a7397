// The threads build (dist/threads, src/build/strip-generators.ts): kernel paths without generator
// plumbing. The transform itself, its refusal of a generator kept to run later, and that the
// stripped paths leave the machine in exactly the state the generator paths leave it in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stripFile } from '../../src/build/strip-generators.js';
import { threadsBuildFresh } from '../../src/engine/threads-code.js';
import { defaultConfig, type ConfigInput } from '../../src/config/config.js';

const src = `import { drive, P } from './gen.js';
export const GENERATORS = true;
export function* inner(cpu, n) { for (let i = 0; i < n; i++) yield P.SET_PTE; return n; }
export function* outer(cpu) { yield P.OP; const k = yield* inner(cpu, 3); if (k) yield; return k + 1; }
export const run = (cpu) => drive(outer(cpu));`;

test('stripFile: function* -> function, yield* g -> g, yield p -> interleave(p), drive(g) -> g, GENERATORS -> false', () => {
  const r = stripFile(src, 'x.js', new Set(['inner', 'outer']), './gen.js');
  assert.deepEqual(r.problems, []);
  assert.doesNotMatch(r.code, /function\s*\*|yield|drive\(/);
  assert.match(r.code, /^import \{ interleave as __interleave \} from '\.\/gen\.js';$/m);
  assert.match(r.code, /export function inner\(cpu, n\)/);
  assert.match(r.code, /const k = \(inner\(cpu, 3\)\)/);
  assert.match(r.code, /__interleave\(P\.OP\)/);
  assert.match(r.code, /__interleave\(0\)/);
  assert.match(r.code, /GENERATORS = false/);
  assert.match(r.code, /export const run = \(cpu\) => \(outer\(cpu\)\)/);
});

test('stripFile: a generator call not consumed at once (kept to run later) is a problem, named with file and line', () => {
  const r = stripFile(`${src}\nexport function* later(cpu) { const g = inner(cpu, 1); yield P.OP; yield* g; }`, 'y.js', new Set(['inner', 'outer', 'later']));
  assert.equal(r.problems.length, 1);
  assert.match(r.problems[0], /^y\.js:6: inner\(cpu, 1\)/);
});

/** Run a single-CPU threads workload of cfg with the kernel paths of one tree (dist or dist/threads); the machine's words and the CPU's counters. */
async function runTree(tree: 'dist' | 'threads', over: ConfigInput): Promise<{ words: Int32Array; counters: Float64Array }> {
  const base = tree === 'dist' ? new URL('../../', import.meta.url) : new URL('../../threads/', import.meta.url);
  const im = async <T>(p: string) => (await import(new URL(p, base).href)) as T;
  const { buildMachine } = await im<typeof import('../../src/check/machine.js')>('src/check/machine.js');
  const { Cpu } = await im<typeof import('../../src/machine/cpu.js')>('src/machine/cpu.js');
  const { mem_init } = await im<typeof import('../../src/linux/mm/page_alloc.js')>('src/linux/mm/page_alloc.js');
  const { Program, rng } = await im<typeof import('../../src/workload/program.js')>('src/workload/program.js');
  const { run_op } = await im<typeof import('../../src/workload/run-op.js')>('src/workload/run-op.js');
  const { release_pins } = await im<typeof import('../../src/workload/pins.js')>('src/workload/pins.js');
  const { drive } = await im<typeof import('../../src/machine/gen.js')>('src/machine/gen.js');
  const cfg = defaultConfig({ engine: 'threads', cpus: 1, ...over });
  const machine = buildMachine(cfg);
  mem_init(machine, rng(7, 'boot'));
  const cpu = new Cpu(machine, 0, true, { step: 0 }, cfg);
  const prog = new Program(cfg, 7, 0);
  // the stripped paths run when called and return their value; the generator paths need drive()
  const go = (g: unknown) => (tree === 'dist' ? drive(g as Parameters<typeof drive>[0]) : g);
  for (let op = prog.next(); op; op = prog.next()) go(run_op(cpu, op));
  go(release_pins(cpu));
  return { words: new Int32Array(machine.m), counters: Float64Array.from(cpu.counters) };
}

for (const [name, over] of [
  ['generic', { opsPerCpu: 400 }],
  ['contpte, retry-lower, orders 0 2 4 5', { opsPerCpu: 400, arch: 'contpte', anonFallback: 'retry-lower', anonOrders: [0, 2, 4, 5] }],
] as const) {
  test(`the threads build's kernel paths leave the same machine and counters as the generator paths (one CPU, ${name})`, { skip: threadsBuildFresh() ? false : 'dist/threads missing or stale (npm test builds it)' }, async () => {
    const a = await runTree('dist', over as ConfigInput);
    const b = await runTree('threads', over as ConfigInput);
    assert.ok(a.counters.reduce((x, y) => x + y, 0) > 1000, 'the workload did something');
    assert.deepEqual(b.counters, a.counters);
    let diff = -1;
    for (let i = 0; i < a.words.length && diff < 0; i++) if (a.words[i] !== b.words[i]) diff = i;
    assert.equal(diff, -1, `first differing machine word: ${diff}`);
  });
}

test('the threads build cannot run a sched (non-threaded) CPU', { skip: threadsBuildFresh() ? false : 'dist/threads missing or stale' }, async () => {
  const { buildMachine } = (await import(new URL('../../threads/src/check/machine.js', import.meta.url).href)) as typeof import('../../src/check/machine.js');
  const { Cpu } = (await import(new URL('../../threads/src/machine/cpu.js', import.meta.url).href)) as typeof import('../../src/machine/cpu.js');
  const cfg = defaultConfig({ cpus: 1 });
  assert.throws(() => new Cpu(buildMachine(cfg), 0, false, { step: 0 }, cfg), /threaded CPUs only/);
});

test('threads engine with threadsCode "stripped": rounds on the threads build finish clean', { skip: threadsBuildFresh() ? false : 'dist/threads missing or stale' }, async () => {
  const { runThreads } = await import('../../src/engine/threads.js');
  const rs = await runThreads(defaultConfig({ engine: 'threads', threadsCode: 'stripped', cpus: 2, opsPerCpu: 150 }), { seeds: [1, 2], durationSec: 0, workers: 2 });
  assert.equal(rs.length, 2);
  for (const r of rs) {
    assert.deepEqual(r.violations.map((v) => v.signature), []);
    assert.ok(Object.values(r.ops).reduce((a, b) => a + b, 0) > 0);
  }
});
