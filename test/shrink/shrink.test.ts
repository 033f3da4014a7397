// foliostorm shrink: a fault-no-recheck failure shrinks to a small artifact that repro reproduces,
// with an interleaving that ends at the violation; each pass keeps only candidates that reproduce;
// bad input is refused with the file named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultConfig } from '../../src/config/config.js';
import { runSched } from '../../src/engine/sched.js';
import { ReplayScheduler } from '../../src/engine/schedulers/replay.js';
import { type Artifact, makeArtifact } from '../../src/report/artifact.js';
import { initialCase, NotReproduced, shrinkArtifact, type ShrinkOutcome } from '../../src/shrink/shrink.js';
import { GUIDE_ONLY, Tester } from '../../src/shrink/attempt.js';
import { guideOf, opsOf, type ShrinkCase } from '../../src/shrink/case.js';
import { fewerCpus, removeOps, shrinkOps } from '../../src/shrink/programs.js';
import { fewerProcesses, smallerConfig } from '../../src/shrink/config.js';
import { fewerPreemptions } from '../../src/shrink/preemptions.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const cli = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
const tmp = () => mkdtempSync(join(tmpdir(), 'foliostorm-shrink-'));
/** Large enough for these failures to shrink to the end (a few seconds): the outcome does not depend on it. */
const BUDGET = 60;

/**
 * A fault-no-recheck failure of the default config from seeds 1..60, as an artifact: seed 24 (the
 * first that fails today) is tried first, so the scan costs one run unless the model changed.
 */
function noRecheckFailure(): Artifact {
  const cfg = defaultConfig({ inject: ['fault-no-recheck'] });
  for (const seed of [24, ...Array.from({ length: 60 }, (_, i) => i + 1)]) {
    const v = runSched(cfg, seed).violations[0];
    if (v) return makeArtifact(cfg, v, `seed-${seed}.json`);
  }
  throw new Error('no fault-no-recheck failure in seeds 1..60');
}

let failure: Artifact | undefined;
const original = (): Artifact => (failure ??= noRecheckFailure());
let shrunkOnce: ShrinkOutcome | undefined;
/** The original failure shrunk (once for all the tests here), written as OUT. */
const OUT = join(tmp(), 'shrunk.json');
const shrunk = (): ShrinkOutcome => (shrunkOnce ??= shrinkArtifact(structuredClone(original()), 'original.json', { budgetSeconds: BUDGET, out: OUT }));

/** Does c reproduce when replayed on its own, as repro does? */
function reproduces(c: ShrinkCase, art: Artifact): boolean {
  const r = runSched(c.cfg, art.seed, { scheduler: new ReplayScheduler(c.schedule, art.seed), programs: c.programs });
  return r.violations.some((v) => v.signature === art.signature);
}

test('shrink: a fault-no-recheck failure shrinks to <= 3 processes and <= 20 ops; repro of the shrunk artifact reproduces it and shows the interleaving', () => {
  const art = original();
  const out = OUT;
  const r = shrunk();
  const a = r.artifact;
  assert.equal(a.signature, art.signature);
  assert.ok(a.config.processes <= 3, `processes ${a.config.processes}`);
  assert.ok(opsOf(a.programs!) <= 20, `ops ${opsOf(a.programs!)}`);
  assert.deepEqual(r.record.after, { cpus: a.config.cpus, processes: a.config.processes, ops: opsOf(a.programs!), steps: a.step, preemptions: r.record.after.preemptions });
  assert.ok(r.record.after.ops < r.record.before.ops && r.record.after.steps < r.record.before.steps);
  assert.ok(r.record.after.preemptions >= 1, 'a race needs at least one preemption');
  assert.equal(a.replay, `npx foliostorm repro ${out}`);
  // the interleaving: a column per CPU, the racing faults of two CPUs, the violation last
  const lines = r.interleaving;
  assert.match(lines[0], /step\s+CPU0\s+CPU1/);
  assert.match(lines.at(-1)!, new RegExp(`VIOLATION .*${art.signature.replace(/[[\]+]/g, '\\$&')}`));
  const scans = lines.filter((l) => /alloc_anon_folio: range 0x[0-9a-f]+ \+\d+p none, order [2-9]/.test(l));
  const maps = lines.filter((l) => /set_ptes 0x[0-9a-f]+ x\d+ \(order \d+ folio/.test(l));
  // rows are "<step, 6 wide>  <CPU column><text>": two columns map, in the same race
  assert.ok(new Set(maps.map((l) => l.slice(8).search(/\S/))).size >= 2, `two CPUs map:\n${lines.join('\n')}`);
  assert.ok(scans.length >= 1);
  assert.ok(lines.some((l) => /spin_lock ptl\(mm\d 0x/.test(l)) && lines.some((l) => /-- preempted --/.test(l)));
  // repro of the written artifact: exit 0, the same signature, and the same interleaving printed
  writeFileSync(out, JSON.stringify(a));
  const p = cli(['repro', out]);
  assert.equal(p.status, 0, p.stdout + p.stderr);
  assert.match(p.stdout, /^reproduced: /);
  assert.ok(p.stdout.includes(lines.at(-1)!), p.stdout);
});

test('shrink: the same artifact gives the same result (seeded search; the budget only bounds it)', () => {
  const once = shrunk();
  // shrinking the shrunk artifact again, twice: a fixed point, and the same both times
  const again = (): Artifact => shrinkArtifact(structuredClone(once.artifact), 'x.json', { budgetSeconds: BUDGET, out: 'y.json' }).artifact;
  const [b, c] = [again(), again()];
  const strip = (x: Artifact) => ({ ...x, shrunk: undefined });
  assert.deepEqual(strip(b), strip(c));
  assert.ok(opsOf(b.programs!) <= opsOf(once.artifact.programs!));
});

test('shrink: every pass keeps only candidates that reproduce; with a signature that never recurs, every candidate is rejected', () => {
  const art = original();
  const t = new Tester(art.seed, art.signature, Infinity);
  let c = initialCase(art, t)!;
  assert.ok(c && reproduces(c, art));
  const passes = { removeOps, fewerCpus, fewerProcesses, smallerConfig, shrinkOps, fewerPreemptions: (x: Tester, y: ShrinkCase) => fewerPreemptions(x, y) };
  for (const [name, pass] of Object.entries(passes)) {
    const next = pass(t, c, GUIDE_ONLY);
    assert.ok(reproduces(next, art), `${name}: the case it kept reproduces on its own`);
    c = next;
  }
  assert.ok(opsOf(c.programs) <= 20);
  // a tester for a signature that cannot occur (the deviation's name differs): nothing is kept
  const never = new Tester(art.seed, art.signature.replace('fault-no-recheck', 'no-such-deviation'), Infinity);
  for (const [name, pass] of Object.entries(passes)) assert.equal(pass(never, c, GUIDE_ONLY), c, name);
  assert.ok(never.runs > 0);
  // a candidate that loses the failure is rejected: the same ops without the deviation
  assert.equal(t.attempt({ cfg: { ...c.cfg, inject: [] }, programs: c.programs, guide: guideOf(c) }, { replay: true, random: 2, pct: 2 }), null);
  // ... and one without any op of CPU 0
  assert.equal(t.attempt({ cfg: c.cfg, programs: c.programs.map((p, i) => (i === 0 ? [] : p)), guide: guideOf(c) }), null);
});

test('shrink: refuses a threads artifact without its recorded order, an unreadable file (exit 2, the file named) and a bad budget; an artifact that does not reproduce is not shrunk', () => {
  const dir = tmp();
  const art = original();
  const threads = join(dir, 'threads.json');
  writeFileSync(threads, JSON.stringify({ ...art, engine: 'threads' }));
  const r = cli(['shrink', threads]);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`${threads.replace(/[.]/g, '\\.')}: a threads artifact without its recorded order .* cannot be shrunk`));
  const missing = join(dir, 'missing.json');
  const m = cli(['shrink', missing]);
  assert.equal(m.status, 2);
  assert.ok(m.stderr.includes(`${missing}: cannot read artifact`), m.stderr);
  const good = join(dir, 'good.json');
  writeFileSync(good, JSON.stringify(art));
  const b = cli(['shrink', good, '--budget', 'soon']);
  assert.equal(b.status, 2);
  assert.match(b.stderr, /--budget: "soon" is not a duration/);
  // the same failure without the deviation: nothing to shrink (the command exits 1 with this message)
  assert.throws(() => shrinkArtifact({ ...art, config: { ...art.config, inject: [] } }, 'clean.json', { out: 'x.json' }), (e: Error) =>
    e instanceof NotReproduced && /^clean\.json: .* did not recur when replayed/.test(e.message));
});

test('shrink (command line): --out and --json; the written artifact is a normal version-2 artifact with programs, schedule, interleaving and the record', () => {
  const dir = tmp();
  const art = original();
  // start from an already shrunk artifact: the command line is what is tested here
  const first = shrunk().artifact;
  const src = join(dir, 'small.json');
  writeFileSync(src, JSON.stringify(first));
  const out = join(dir, 'out.json');
  const r = cli(['shrink', src, '--budget', '30s', '--out', out, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.artifact, out);
  assert.equal(j.signature, art.signature);
  const a = JSON.parse(readFileSync(out, 'utf8'));
  for (const k of ['version', 'config', 'seed', 'engine', 'schedule', 'programs', 'signature', 'events', 'replay', 'interleaving', 'shrunk']) assert.ok(k in a, `artifact lacks ${k}`);
  assert.equal(a.version, 2);
  assert.deepEqual(Object.keys(a.shrunk.before).sort(), ['cpus', 'ops', 'preemptions', 'processes', 'steps']);
  assert.deepEqual(a.interleaving, j.interleaving);
  const text = cli(['shrink', src, '--budget', '30']);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /^shrunk .* in [\d.]+ s \(\d+ runs\):\n {2}cpus +\d+ -> \d+\n {2}processes/);
  assert.match(text.stdout, new RegExp(`wrote ${src.replace(/\.json$/, '').replace(/[.]/g, '\\.')}\\.shrunk\\.json; replay: npx foliostorm repro `));
  assert.match(text.stderr, /\[shrink\] start: /);
});
