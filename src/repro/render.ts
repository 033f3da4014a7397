// What foliostorm repro prints: whether the artifact's signature recurred, how the replay went
// (a sched schedule's divergence; a threads recording: how closely its global order was followed),
// and the events leading to the violation.
import type { Artifact } from '../report/artifact.js';
import type { ReproResult, ReproRun } from './repro.js';
import type { FollowOutcome } from '../engine/schedulers/follow.js';
import { renderEventsByCpu } from '../report/events.js';
import { renderInterleaving } from '../report/interleaving.js';

/** One line: how closely a follow run kept to the recorded order. */
export function describeFollow(o: FollowOutcome): string {
  const e = o.events;
  const div = o.firstDivergence ? `first divergence at step ${o.firstDivergence.step}: ${o.firstDivergence.reason} (${o.divergences} in all)` : 'no divergence';
  return `ops started ${o.ops.started}/${o.ops.recorded} recorded, ${o.ops.inOrder} in the recorded order; ` +
    `window events matched ${e.matched}/${e.recorded} (${e.inOrder} in order, ${e.coarse} out of it within one step, ${e.missed} skipped, ${e.extra} extra); ` +
    `picks ${o.picks.guided} by the recorded clock, ${o.picks.unguided} with nothing recorded left, ${o.picks.blocked} with an earlier CPU blocked; ${div}`;
}

function runLine(r: ReproRun): string {
  const v = r.hit ?? r.result.violations[0];
  const what = r.hit ? `reproduced at step ${r.hit.step}` : v ? `other violation ${v.signature}` : 'clean';
  const follow = r.result.scheduler?.name === 'follow' ? `\n      ${describeFollow(r.result.scheduler as unknown as FollowOutcome)}` : '';
  return `  attempt ${r.attempt}: ${what}${follow}`;
}

export function renderRepro(art: Artifact, res: ReproResult): string {
  const last = res.runs[res.runs.length - 1];
  const lines: string[] = [];
  const how = res.mode === 'follow' ? ' (threads artifact replayed in the sched engine along its recorded global order)'
    : art.engine === 'threads' ? ' (threads artifact without a recorded order: its seed and op streams re-run in the sched engine)' : '';
  const sched = last.result.scheduler;
  if (res.mode === 'schedule' && sched?.divergedAt !== undefined) lines.push(`replay diverged at step ${sched.divergedAt}: ${sched.reason}; went on with a seeded random scheduler`);
  if (res.mode === 'follow') for (const r of res.runs) lines.push(runLine(r));
  if (!last.hit) {
    lines.push(`NOT reproduced: ${art.signature} (seed ${art.seed})${how}`);
    if (res.mode !== 'follow') lines.push(last.result.violations.length ? `  other violations: ${last.result.violations.map((v) => v.signature).join(', ')}` : '  the run was clean');
    return lines.join('\n');
  }
  const which = res.mode === 'follow' ? `, attempt ${last.attempt}` : '';
  lines.push(`reproduced: ${last.hit.signature} at step ${last.hit.step} (seed ${art.seed}${which})${how}`);
  lines.push(`  details: ${JSON.stringify(last.hit.details)}`);
  if (last.log) lines.push(...renderInterleaving(last.log.events, last.hit, art.config, { programs: art.programs }));
  else lines.push(renderEventsByCpu(last.hit.events));
  return lines.join('\n');
}
