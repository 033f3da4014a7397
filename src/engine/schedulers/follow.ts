// The "follow" strategy: replay a threads failure in the sched engine along its recorded global
// order (issue #5 item 3). A threads recording gives, per CPU, where each op started (its OP_START's
// global sequence number and the CPU's event number) and the flight recorder (the CPU's last events,
// each with its global sequence number). From these every event a CPU records gets a place on the
// recorded global clock: exact for an op start and inside the flight-recorder window, interpolated
// between the nearest recorded events of the same CPU elsewhere. At each step the runnable CPU whose
// next event comes earliest on that clock runs, so ops start in the recorded order for the whole run
// and the window's events come in the recorded sequence. A CPU with nothing recorded left runs last
// (seeded random choice among such CPUs). Events are matched by CPU, op and position in the op
// (re-aligned by code over small gaps); whatever cannot be followed is counted, never thrown.
//
// Further attempts (attempt >= 1) perturb only where the recording is silent: inside each op, the
// interpolation between recorded anchors is bent by a seeded exponent, so the unrecorded steps of
// overlapping ops interleave differently while every recorded event keeps its place.
import { ascendingRun, type RingEvent } from '../../diag/flight-recorder.js';
import { EV, EV_NAMES } from '../../machine/events.js';
import { rng } from '../../workload/program.js';
import type { Scheduler } from '../scheduler.js';

export interface FollowRecording {
  /** Per CPU, per op: the global sequence number of its OP_START (ascending). */
  opSeqs: readonly (readonly number[])[];
  /** Per CPU, per op: the CPU's event number of its OP_START. */
  opEventNos: readonly (readonly number[])[];
  /** Per CPU: its flight recorder, oldest first (seq, n and event are used). */
  events: readonly (readonly Pick<RingEvent, 'seq' | 'n' | 'event'>[])[];
  /** The global sequence number at which the violation was detected: later events are left out. */
  endSeq: number;
}

export interface FollowOutcome {
  attempt: number;
  /** op starts: recorded, started in the replay, and started in the recorded global order */
  ops: { recorded: number; started: number; inOrder: number };
  /**
   * flight-recorder events: recorded (the window), matched by the replay; of these, in the recorded
   * order, and out of it only because one sched step (its CPU runs from one yield to the next)
   * holds events the threads run interleaved with another CPU's (the rest: out of order); recorded
   * events the replay skipped; replay events the window does not have
   */
  events: { recorded: number; matched: number; inOrder: number; coarse: number; missed: number; extra: number };
  /** picks by the recorded clock; picks where no runnable CPU had anything recorded left (seeded random); of all, picks where a CPU with an earlier recorded event was blocked */
  picks: { guided: number; blocked: number; unguided: number };
  divergences: number;
  /** the first step at which the replay did not do what the recording says, and why */
  firstDivergence?: { step: number; reason: string };
}

const CODE = new Map(EV_NAMES.map((name, code) => [name, code]));
/** How far ahead in the recorded op a replay event may find its match (recorded events the replay skipped). */
const LOOKAHEAD = 4;

/** One CPU's recording, and where the replay of that CPU stands in it. */
class Track {
  readonly nOps: number;
  /** the flight-recorder window: event numbers lo..hi-1, their seqs and codes */
  readonly lo: number;
  readonly hi: number;
  readonly ringSeq: number[] = [];
  readonly ringCode: number[] = [];
  /** the replay: current op (-1 before the first), events it recorded in that op, alignment offset to the recording */
  op = -1;
  k = 0;
  off = 0;
  /** between ops: the next event is the next op's OP_START */
  boundary = true;
  /** the interpolation exponent of the current op (1 on attempt 0) */
  gamma = 1;
  constructor(
    readonly opSeq: readonly number[],
    readonly opNo: readonly number[],
    events: readonly Pick<RingEvent, 'seq' | 'n' | 'event'>[],
    endSeq: number,
  ) {
    if (opSeq.length !== opNo.length) throw new Error('follow: opSeqs and opEventNos differ in length');
    this.nOps = opSeq.length;
    // The window: the events before the detection (the CPUs go on for a moment after it), as one
    // run of consecutive event numbers with ascending seqs (as readRing keeps; an artifact may lie).
    const win = ascendingRun(events.filter((e) => Number.isInteger(e.n) && e.seq < endSeq && CODE.has(e.event)));
    this.lo = win.length ? win[0].n : 0;
    this.hi = win.length ? win[win.length - 1].n + 1 : 0;
    for (const e of win) {
      this.ringSeq.push(e.seq);
      this.ringCode.push(CODE.get(e.event)!);
    }
  }
  inRing(e: number): boolean {
    return e >= this.lo && e < this.hi;
  }
  /** The end (exclusive event number) of op i: the next op's start, or unbounded for the last op. */
  opEnd(i: number): number {
    return i + 1 < this.nOps ? this.opNo[i + 1] : Infinity;
  }
  /** The recorded event number the replay's next event corresponds to, or -1 if nothing recorded is left. */
  nextEvent(): number {
    if (this.boundary) return this.op + 1 < this.nOps ? this.opNo[this.op + 1] : -1;
    if (this.op < 0 || this.op >= this.nOps) return -1;
    return Math.min(this.opNo[this.op] + this.k + this.off, this.opEnd(this.op) - 1);
  }
  /** The recorded global clock of this CPU's event number e (in the current op, or the next op's start). */
  clock(e: number): number {
    if (e < 0) return Infinity;
    if (this.inRing(e)) return this.ringSeq[e - this.lo];
    if (this.boundary) return this.opSeq[this.op + 1];
    const i = this.op;
    // the nearest recorded events of this CPU around e: op starts and the window's ends
    let a0 = this.opNo[i], s0 = this.opSeq[i];
    let a1 = this.opEnd(i), s1 = i + 1 < this.nOps ? this.opSeq[i + 1] : Infinity;
    if (this.hi > this.lo) {
      if (this.hi - 1 < e && this.hi - 1 > a0) (a0 = this.hi - 1), (s0 = this.ringSeq[this.hi - 1 - this.lo]);
      if (this.lo > e && this.lo < a1) (a1 = this.lo), (s1 = this.ringSeq[0]);
    }
    if (a1 === Infinity) return Infinity;
    const f = (e - a0) / (a1 - a0);
    return s0 + (s1 - s0) * (this.gamma === 1 ? f : Math.pow(f, this.gamma));
  }
}

export class FollowScheduler implements Scheduler {
  readonly name = 'follow';
  private tracks: Track[] = [];
  private rand: () => number = () => 0;
  private step = 0;
  /** the latest recorded seq matched so far, and whether it came past the runner-up of its step */
  private lastSeq = -1;
  private lastOvershot = false;
  /** the earliest next recorded event of the CPUs not picked at this step */
  private runnerUp = Infinity;
  private out!: FollowOutcome;
  /** attempt: 0 follows the recording as it is; 1, 2, ... bend the unrecorded parts (seeded). */
  constructor(
    private readonly rec: FollowRecording,
    private readonly seed: number,
    readonly attempt = 0,
  ) {
    const n = rec.opSeqs.length;
    if (rec.opEventNos.length !== n || rec.events.length !== n) throw new Error('follow: the recording must have one entry per CPU in opSeqs, opEventNos and events');
  }

  start(ncpus: number): void {
    if (ncpus !== this.rec.opSeqs.length) throw new Error(`follow: the recording has ${this.rec.opSeqs.length} CPUs, the machine ${ncpus}`);
    this.tracks = this.rec.opSeqs.map((s, c) => new Track(s, this.rec.opEventNos[c], this.rec.events[c], this.rec.endSeq));
    this.rand = rng(this.seed, `follow/${this.attempt}`);
    this.step = 0;
    this.lastSeq = -1;
    this.lastOvershot = false;
    this.runnerUp = Infinity;
    this.out = {
      attempt: this.attempt,
      ops: { recorded: this.tracks.reduce((a, t) => a + t.nOps, 0), started: 0, inOrder: 0 },
      events: { recorded: this.tracks.reduce((a, t) => a + t.hi - t.lo, 0), matched: 0, inOrder: 0, coarse: 0, missed: 0, extra: 0 },
      picks: { guided: 0, blocked: 0, unguided: 0 },
      divergences: 0,
    };
  }

  pick(runnable: readonly number[], step: number): number {
    this.step = step;
    let best = -1, bestKey = Infinity;
    for (const c of runnable) {
      const key = this.key(c);
      if (key < bestKey) (best = c), (bestKey = key);
    }
    let blocked = false;
    for (let c = 0; c < this.tracks.length; c++) if (this.key(c) < bestKey && !runnable.includes(c)) blocked = true;
    if (blocked) this.out.picks.blocked++;
    if (best < 0) {
      this.out.picks.unguided++;
      best = runnable.length === 1 ? runnable[0] : runnable[Math.floor(this.rand() * runnable.length)];
    } else this.out.picks.guided++;
    this.runnerUp = Infinity;
    for (let c = 0; c < this.tracks.length; c++) if (c !== best) this.runnerUp = Math.min(this.runnerUp, this.key(c));
    return best;
  }

  yielded(cpu: number, point: number | null): void {
    if (point === null) this.tracks[cpu].boundary = true;
  }

  event(cpu: number, code: number): void {
    const t = this.tracks[cpu];
    if (code === EV.OP_START) return this.opStart(cpu, t);
    if (t.boundary || t.op < 0 || t.op >= t.nOps) return; // not inside a recorded op (release_pins at the end)
    const e = t.opNo[t.op] + t.k + t.off;
    t.k++;
    const end = Math.min(t.hi, t.opEnd(t.op));
    if (!t.inRing(e) || e >= end) return; // outside the window: nothing to match
    for (let j = 0; j <= LOOKAHEAD && e + j < end; j++) {
      if (t.ringCode[e + j - t.lo] !== code) continue;
      t.off += j;
      if (j) {
        this.out.events.missed += j;
        this.diverge(`CPU ${cpu} skipped ${j} recorded event(s) before ${EV_NAMES[code]}`);
      }
      this.matched(cpu, t.ringSeq[e + j - t.lo], EV_NAMES[code]);
      return;
    }
    // not in the recording here: the replay's extra event; the next one is compared with the same recorded event
    t.off--;
    this.out.events.extra++;
    this.diverge(`CPU ${cpu} recorded ${EV_NAMES[code]} where the recording has ${EV_NAMES[t.ringCode[e - t.lo]]}`);
  }

  random(): number {
    return this.rand();
  }

  outcome(): FollowOutcome {
    return this.out;
  }

  /** The recorded global clock of cpu's next event (Infinity: nothing recorded left). */
  private key(cpu: number): number {
    const t = this.tracks[cpu];
    return t.clock(t.nextEvent());
  }

  private opStart(cpu: number, t: Track): void {
    // the rest of the finished op's window was not reached by the replay
    if (t.op >= 0 && t.op < t.nOps) {
      const from = Math.max(t.lo, t.opNo[t.op] + t.k + t.off), to = Math.min(t.hi, t.opEnd(t.op));
      if (to > from) {
        this.out.events.missed += to - from;
        this.diverge(`CPU ${cpu} ended op ${t.op} before ${to - from} of its recorded event(s)`);
      }
    }
    t.op++;
    t.k = 1;
    t.off = 0;
    t.boundary = false;
    t.gamma = this.attempt === 0 ? 1 : Math.exp((this.rand() * 2 - 1) * Math.log(3));
    if (t.op >= t.nOps) return this.diverge(`CPU ${cpu} started op ${t.op}, beyond its ${t.nOps} recorded ops`);
    this.out.ops.started++;
    const seq = t.opSeq[t.op];
    const earlier = this.tracks.findIndex((u, c) => c !== cpu && u.op + 1 < u.nOps && u.opSeq[u.op + 1] < seq);
    if (earlier < 0) this.out.ops.inOrder++;
    else this.diverge(`CPU ${cpu} started op ${t.op} (recorded at seq ${seq}) before CPU ${earlier} started op ${this.tracks[earlier].op + 1} (seq ${this.tracks[earlier].opSeq[this.tracks[earlier].op + 1]})`);
    if (t.inRing(t.opNo[t.op])) this.matched(cpu, t.ringSeq[t.opNo[t.op] - t.lo], 'op.start');
  }

  private matched(cpu: number, seq: number, what: string): void {
    this.out.events.matched++;
    if (seq > this.lastSeq) {
      this.out.events.inOrder++;
      this.lastSeq = seq;
      this.lastOvershot = seq > this.runnerUp;
    } else if (this.lastOvershot) {
      // the later event came in a step that began in order and ran past this one's place: the
      // sched engine cannot split a step, so this inversion is no choice of the scheduler's
      this.out.events.coarse++;
    } else this.diverge(`CPU ${cpu} ${what} (recorded at seq ${seq}) came after the event recorded at seq ${this.lastSeq}`);
  }

  private diverge(reason: string): void {
    this.out.divergences++;
    this.out.firstDivergence ??= { step: this.step, reason };
  }
}
