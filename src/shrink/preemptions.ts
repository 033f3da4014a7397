// Shrinking the schedule: fewer preemptions. First preemptions are taken out in chunks, ddmin style
// (half of them, a quarter, ... single ones): each taken out lets the preempted op run on to its end
// (its later steps move up). Then single ones the other way: what ran in between is postponed
// until after the preempted CPU's next run. The run follows that guide, then goes on without
// preempting; a candidate is kept only if the run it reproduced in has fewer preemptions.
import { GuidedScheduler } from '../engine/schedulers/guided.js';
import { StickyScheduler } from '../engine/schedulers/sticky.js';
import type { Tester } from './attempt.js';
import { type Guide, guideOf, postpone, preemptionPoints, type ShrinkCase, unpreempt } from './case.js';

function follow(t: Tester, c: ShrinkCase, g: Guide): ShrinkCase | null {
  const hit = t.run(c.cfg, c.programs, new GuidedScheduler(g.cpus, g.labels, new StickyScheduler()));
  return hit && hit.preemptions < c.preemptions ? hit : null;
}

export function fewerPreemptions(t: Tester, c: ShrinkCase): ShrinkCase {
  let points = preemptionPoints(guideOf(c));
  for (let size = Math.max(1, Math.ceil(points.length / 2)); size >= 1; size = size === 1 ? 0 : Math.ceil(size / 2)) {
    for (let end = points.length; end > 0; end -= size) {
      const hit = follow(t, c, unpreempt(guideOf(c), points.slice(Math.max(0, end - size), end)));
      if (hit) {
        c = t.accept(hit);
        points = preemptionPoints(guideOf(c));
        end = Math.min(end, points.length + size);
      }
    }
  }
  for (let i = 0; i < points.length; i++) {
    const hit = follow(t, c, postpone(guideOf(c), points[i]));
    if (hit) {
      c = t.accept(hit);
      points = preemptionPoints(guideOf(c));
      i = -1; // from the first again
    }
  }
  return c;
}
