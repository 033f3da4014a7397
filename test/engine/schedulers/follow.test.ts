// The follow strategy on hand-built recordings: a sched run logged the way the threads engine
// records (a global sequence number per event, each CPU's event numbers, its op starts), with each
// CPU on its own process so that its events do not depend on the interleaving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultConfig } from '../../../src/config/config.js';
import { runSched } from '../../../src/engine/sched.js';
import type { Scheduler } from '../../../src/engine/scheduler.js';
import { FollowScheduler, type FollowOutcome, type FollowRecording } from '../../../src/engine/schedulers/follow.js';
import { RandomScheduler } from '../../../src/engine/schedulers/random.js';
import { EV, EV_NAMES } from '../../../src/machine/events.js';
import { OP_KINDS, programPrefix, type Op } from '../../../src/workload/program.js';

const weights = Object.fromEntries(OP_KINDS.map((k) => [k, 0]));
const cfg = defaultConfig({ weights: { ...weights, touch: 6, mmap: 2 }, fragmentation: 0, files: { count: 0 }, opsPerCpu: 12 });
const SEED = 5;
/** CPU c works on process c only: its events are the same under every interleaving. */
const programs: Op[][] = [0, 1].map((c) => programPrefix(cfg, SEED, c, 12).map((op) => ({ ...op, proc: c })));

interface Logged {
  log: { seq: number; n: number; cpu: number; event: string }[];
  opSeqs: number[][];
  opEventNos: number[][];
  traceHash: string;
  outcome?: FollowOutcome;
}

/** A run of the programs under scheduler, every event logged with a global sequence number. */
function logged(scheduler: Scheduler): Logged {
  const out: Logged = { log: [], opSeqs: [[], []], opEventNos: [[], []], traceHash: '' };
  const n = [0, 0];
  const r = runSched(cfg, SEED, {
    scheduler, programs,
    onEvent: (cpu, code) => {
      if (code === EV.OP_START) {
        out.opSeqs[cpu].push(out.log.length);
        out.opEventNos[cpu].push(n[cpu]);
      }
      out.log.push({ seq: out.log.length, n: n[cpu]++, cpu, event: EV_NAMES[code] });
    },
  });
  assert.equal(r.violations.length, 0, r.violations[0]?.signature);
  out.traceHash = r.traceHash!;
  out.outcome = r.scheduler as unknown as FollowOutcome | undefined;
  return out;
}

/** The recording of a logged run, with a flight recorder of the last `window` events per CPU. */
function recording(l: Logged, window: number): FollowRecording {
  const events = [0, 1].map((c) => (window > 0 ? l.log.filter((e) => e.cpu === c).slice(-window) : []));
  return { opSeqs: l.opSeqs, opEventNos: l.opEventNos, events, endSeq: l.log.length };
}

const opOrder = (l: Logged) => l.log.filter((e) => e.event === 'op.start').map((e) => e.cpu);
const key = (e: { cpu: number; n: number }) => `${e.cpu}/${e.n}`;

test('follow: ops start in the recorded global order, and the window events come in the recorded sequence', () => {
  for (const rseed of [77, 78, 79]) {
    const rec = logged(new RandomScheduler(rseed));
    const window = 10;
    const r = recording(rec, window);
    const f = logged(new FollowScheduler(r, SEED));
    assert.deepEqual(opOrder(f), opOrder(rec), `random seed ${rseed}: op start order`);
    // the window's events (each CPU's last ten) in the replay's order, against the recorded order
    const inWindow = new Set(r.events.flatMap((l, c) => l.map((e) => key({ cpu: c, n: e.n }))));
    const replayed = f.log.filter((e) => inWindow.has(key(e))).map(key);
    const recorded = rec.log.filter((e) => inWindow.has(key(e))).map(key);
    assert.deepEqual(replayed, recorded, `random seed ${rseed}: window order`);
    // the recordings interleave the CPUs in the window (else the order would be trivial to follow)
    assert.ok(recorded.some((k, i) => i > 0 && k[0] !== recorded[i - 1][0]));
    const o = f.outcome!;
    assert.deepEqual(o.ops, { recorded: 24, started: 24, inOrder: 24 });
    assert.deepEqual(o.events, { recorded: 2 * window, matched: 2 * window, inOrder: 2 * window, coarse: 0, missed: 0, extra: 0 });
    assert.equal(o.divergences, 0);
    assert.equal(o.firstDivergence, undefined);
  }
});

test('follow: a window covering the whole run reproduces the run event for event', () => {
  const rec = logged(new RandomScheduler(80));
  const f = logged(new FollowScheduler(recording(rec, 1e9), SEED));
  assert.deepEqual(f.log.map((e) => `${e.cpu}:${e.event}`), rec.log.map((e) => `${e.cpu}:${e.event}`));
  // and differs from another random interleaving of the same programs
  const other = logged(new RandomScheduler(81));
  assert.notDeepEqual(other.log.map((e) => `${e.cpu}:${e.event}`), rec.log.map((e) => `${e.cpu}:${e.event}`));
});

test('follow: an event the replay does not record is a divergence, counted, and the run goes on', () => {
  const rec = logged(new RandomScheduler(77));
  const r = recording(rec, 10);
  // CPU 1's window claims a fork where its run records an mmap
  const i = r.events[1].findIndex((e) => e.event === 'mmap');
  assert.ok(i >= 0, 'the window has an mmap op');
  const bad = r.events[1].map((e, j) => (j === i ? { ...e, event: 'fork' } : e));
  const f = logged(new FollowScheduler({ ...r, events: [r.events[0], bad] }, SEED));
  const o = f.outcome!;
  assert.equal(o.firstDivergence!.reason, 'CPU 1 recorded mmap where the recording has fork');
  // the replay's mmap is extra, the recorded fork is skipped, everything else matches
  assert.deepEqual(o.events, { recorded: 20, matched: 19, inOrder: 19, coarse: 0, missed: 1, extra: 1 });
  assert.equal(o.divergences, 2);
  assert.deepEqual(opOrder(f), opOrder(rec), 'the op order is still followed');
});

test('follow: an op order the replay cannot keep (a CPU started beyond its recorded ops) is reported, not thrown', () => {
  const rec = logged(new RandomScheduler(77));
  const r = recording(rec, 0);
  // CPU 0's recording stops after 8 of its 12 ops: the rest start unguided, after everything recorded
  const short: FollowRecording = { ...r, opSeqs: [r.opSeqs[0].slice(0, 8), r.opSeqs[1]], opEventNos: [r.opEventNos[0].slice(0, 8), r.opEventNos[1]] };
  const f = logged(new FollowScheduler(short, SEED));
  const o = f.outcome!;
  assert.equal(o.ops.recorded, 20);
  assert.match(o.firstDivergence!.reason, /CPU 0 started op 8, beyond its 8 recorded ops/);
  assert.ok(o.picks.unguided > 0);
  // the recorded ops start in the recorded order; CPU 0's four unrecorded ones run last
  let zeros = 0;
  const recorded = opOrder(rec).filter((c) => c === 1 || zeros++ < 8);
  assert.deepEqual(opOrder(f), [...recorded, 0, 0, 0, 0]);
});

test('follow: deterministic per attempt; further attempts change only what the recording leaves open', () => {
  const rec = logged(new RandomScheduler(79));
  const r = recording(rec, 6);
  const a0 = logged(new FollowScheduler(r, SEED, 0));
  assert.equal(logged(new FollowScheduler(r, SEED, 0)).traceHash, a0.traceHash);
  const hashes = new Set([a0.traceHash]);
  for (const attempt of [1, 2, 3]) {
    const a = logged(new FollowScheduler(r, SEED, attempt));
    assert.equal(logged(new FollowScheduler(r, SEED, attempt)).traceHash, a.traceHash);
    hashes.add(a.traceHash);
    assert.deepEqual(opOrder(a), opOrder(rec), `attempt ${attempt}: op order`);
    assert.equal(a.outcome!.events.inOrder, 12, `attempt ${attempt}: window`);
    assert.equal(a.outcome!.attempt, attempt);
  }
  assert.ok(hashes.size > 1, 'the attempts interleave the unrecorded steps differently');
});

test('follow: events the threads run interleaved inside one sched step are counted as coarse, not as divergence', () => {
  const rec = logged(new RandomScheduler(77));
  // The first CPU's first step records its op start and the spawn of its process: claim that the
  // other CPU's first op start came between the two (a threads CPU can be preempted anywhere, a
  // sched CPU only at a yield)
  const first = rec.log[0].cpu;
  const a = rec.log.filter((e) => e.cpu === first);
  assert.deepEqual([a[0].event, a[1].event], ['op.start', 'spawn']);
  const moved = rec.log.find((e) => e.cpu !== first)!;
  assert.equal(moved.event, 'op.start');
  const order = rec.log.filter((e) => e !== moved);
  order.splice(1, 0, moved);
  const log = order.map((e, seq) => ({ ...e, seq }));
  const opStarts = (c: number) => log.filter((e) => e.cpu === c && e.event === 'op.start');
  const r: FollowRecording = {
    opSeqs: [0, 1].map((c) => opStarts(c).map((e) => e.seq)),
    opEventNos: [0, 1].map((c) => opStarts(c).map((e) => e.n)),
    events: [0, 1].map((c) => log.filter((e) => e.cpu === c)),
    endSeq: log.length,
  };
  const o = logged(new FollowScheduler(r, SEED)).outcome!;
  assert.deepEqual(o.events, { recorded: log.length, matched: log.length, inOrder: log.length - 1, coarse: 1, missed: 0, extra: 0 });
  assert.equal(o.divergences, 0);
  assert.equal(o.ops.inOrder, 24);
});
