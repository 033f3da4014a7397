// junit.xml: the run as JUnit XML, the format CI test-report readers take (GitHub Actions report
// actions, GitLab `artifacts:reports:junit`, Jenkins `junit`): <testsuites> holding one <testsuite>
// with one test case for the configuration and one per violation signature.
//
// - config case ("foliostorm.config", named after the config and engine): passes when the run had
//   no violations; <failure> when it had any (also when it was interrupted: what was found is
//   real); <error type="interrupted"> when it was interrupted with no violations, because the
//   planned seeds did not all run (the exit code is 3 then, so the report is not green either).
// - signature cases ("foliostorm.signature", named after the signature, stable from night to
//   night so CI history can follow one finding): always <failure>; message = invariant, kernel path
//   and the details of the smallest seed; body = count, smallest seed, details and the replay
//   command of each artifact.
// - variant cases ("foliostorm.variant", a config with `variants` only, named "<config>/<variant>
//   [engine]"): one per model variant the run's seeds ran, so a nightly run over 8 variants shows
//   which design broke; <failure> listing its signatures when any seed of it had a violation or
//   it failed a reach floor.
// - reach cases ("foliostorm.reach", named after the signature, reach-floor@<rule>): one per
//   reach rule not met (src/check/reach.ts) in some variant, always <failure type="reach-floor">:
//   the expression, what it must be, and per variant its count over that variant's seeds. A
//   run-level finding: no seed, no replay. The config case fails with them too.
import { escapeXmlText as esc, escapeXmlAttr as attr } from './escape.js';
import type { SignatureGroup } from './aggregate.js';
import { failed, type ReachGroup, reachGroups, reachWhere, type Summary, type VariantStats, variantStats } from './summary.js';

export const JUNIT_FILE = 'junit.xml';

/** Longest message attribute; the full text is in the element body. */
const MESSAGE_MAX = 300;

const clip = (s: string, n = MESSAGE_MAX): string => (s.length > n ? `${s.slice(0, n - 3)}...` : s);
const secs = (n: number): string => (Number.isFinite(n) && n > 0 ? n.toFixed(3) : '0.000');

/** The run id starts with its UTC start time (makeRunId): YYYYMMDD-HHMMSS -> ISO 8601, as the schema wants. */
export function runTimestamp(runId: string): string | undefined {
  const m = /^(\d{4})(\d\d)(\d\d)-(\d\d)(\d\d)(\d\d)-/.exec(runId);
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}` : undefined;
}

export function configCaseName(s: Summary): string {
  return `${s.config?.name ?? 'config'} [${s.engine}]`;
}

export function renderJunit(s: Summary): string {
  const nv = s.violations.length;
  const unreached = reachGroups(s);
  const cfgOutcome: 'pass' | 'failure' | 'error' = failed(s) ? 'failure' : s.interrupted ? 'error' : 'pass';
  const variants = variantStats(s);
  const badVariants = [...variants.values()].filter((x) => x.violations || x.unreached.length).length;
  const failures = s.signatures.length + unreached.length + (cfgOutcome === 'failure' ? 1 : 0) + badVariants;
  const errors = cfgOutcome === 'error' ? 1 : 0;
  const tests = s.signatures.length + unreached.length + 1 + variants.size;
  const seedRange = s.seeds.count ? (s.seeds.count > 1 && s.seeds.list.length ? `${Math.min(...s.seeds.list)}..${Math.max(...s.seeds.list)}` : String(s.seeds.first)) : 'none';
  const seedsLine = `${s.seeds.count} seed(s) ${seedRange} in ${s.wallSeconds} s`;
  const runLine = `${seedsLine}${s.interrupted ? ', interrupted before the planned end' : ''}`;

  const cfgCase = (): string => {
    const open = `    <testcase classname="foliostorm.config" name="${attr(configCaseName(s))}" time="${secs(s.wallSeconds)}">`;
    const out = `      <system-out>${esc(`run ${s.runId}: ${runLine}\nconfig: ${JSON.stringify(s.config)}`)}</system-out>`;
    if (cfgOutcome === 'pass') return `${open}\n${out}\n    </testcase>`;
    if (cfgOutcome === 'error') {
      return `${open}\n      <error type="interrupted" message="${attr(`run interrupted after ${seedsLine}; no violations until then`)}">${esc(`The run was stopped (Ctrl-C/SIGTERM) before its planned seeds or duration ended; exit code 3.\n${runLine}`)}</error>\n${out}\n    </testcase>`;
    }
    const what = [nv ? `${nv} violation(s) in ${s.signatures.length} signature(s)` : '', unreached.length ? `${unreached.length} reach rule(s) not met` : ''].filter(Boolean).join(' and ');
    const msg = `${what}${s.interrupted ? ' (run interrupted)' : ''}: ${[...s.signatures, ...unreached].map((g) => g.signature).join(', ')}`;
    const body = [
      `${runLine}`,
      ...s.signatures.map((g) => `${g.signature} x${g.count}, smallest seed ${g.smallestSeed}${g.artifacts[0] ? `: npx foliostorm repro ${g.artifacts[0]}` : ''}`),
      ...unreached.map((g) => `${g.signature} x${g.findings.length}: ${g.findings[0].details.expr} must be ${g.findings[0].details.need}; was ${reachWhere(g)}`),
    ].join('\n');
    return `${open}\n      <failure type="${nv ? 'violations' : 'reach-floor'}" message="${attr(clip(msg))}">${esc(body)}</failure>\n${out}\n    </testcase>`;
  };

  const sigCase = (g: SignatureGroup): string => {
    const first = s.violations.find((v) => v.signature === g.signature && v.seed === g.smallestSeed) ?? s.violations.find((v) => v.signature === g.signature);
    const details = JSON.stringify(first?.details ?? {});
    const msg = `${g.invariant} at ${g.path}: ${details}`;
    const body = [
      `signature:     ${g.signature}`,
      `invariant:     ${g.invariant}`,
      `kernel path:   ${g.path}`,
      `count:         ${g.count}`,
      `smallest seed: ${g.smallestSeed}`,
      `details:       ${details}`,
      ...(g.artifacts.length ? ['replay:', ...[...new Set(g.artifacts)].map((a) => `  npx foliostorm repro ${a}`)] : ['replay:        no artifact was written for this signature']),
    ].join('\n');
    return `    <testcase classname="foliostorm.signature" name="${attr(g.signature)}" time="0.000">\n      <failure type="${attr(g.invariant)}" message="${attr(clip(msg))}">${esc(body)}</failure>\n    </testcase>`;
  };

  const variantCase = (name: string, x: VariantStats): string => {
    const open = `    <testcase classname="foliostorm.variant" name="${attr(`${s.config?.name ?? 'config'}/${name} [${s.engine}]`)}" time="0.000">`;
    const out = `      <system-out>${esc(`${x.seeds} seed(s) of this variant`)}</system-out>`;
    if (!x.violations && !x.unreached.length) return `${open}\n${out}\n    </testcase>`;
    const what = [x.violations ? `${x.violations} violation(s) in ${x.bySignature.size} signature(s)` : '', x.unreached.length ? `${x.unreached.length} reach floor(s) not met` : ''].filter(Boolean).join(' and ');
    const msg = `${what}: ${[...x.bySignature.keys(), ...x.unreached].join(', ')}`;
    const body = [...[...x.bySignature].map(([sig, g]) => `${sig} x${g.count}, smallest seed ${g.smallestSeed}`), ...x.unreached.map((sig) => `${sig}: not reached`)].join('\n');
    return `${open}\n      <failure type="${x.violations ? 'violations' : 'reach-floor'}" message="${attr(clip(msg))}">${esc(body)}</failure>\n${out}\n    </testcase>`;
  };

  const reachCase = (g: ReachGroup): string => {
    const d = g.findings[0].details;
    const msg = `${d.expr} must be ${d.need}, was ${reachWhere(g)}: ${d.why}`;
    const body = [
      `signature:     ${g.signature}`,
      `rule:          ${g.path}`,
      `expression:    ${d.expr}`,
      `must be:       ${d.need}`,
      `judged when:   ${d.when}`,
      `why:           ${d.why}`,
      'per variant:',
      ...g.findings.map((f) => `  ${f.details.variant}: ${f.details.value} over ${f.details.seeds} seed(s)${f.details.terms ? ` (${Object.entries(f.details.terms as Record<string, number>).map(([k, v]) => `${k} ${v}`).join(', ')})` : ''}`),
      'replay:        none (a run-level finding: the sum over a variant\'s seeds, no one seed)',
    ].join('\n');
    return `    <testcase classname="foliostorm.reach" name="${attr(g.signature)}" time="0.000">\n      <failure type="${attr(g.invariant)}" message="${attr(clip(msg))}">${esc(body)}</failure>\n    </testcase>`;
  };

  const props: [string, unknown][] = [
    ['runId', s.runId], ['engine', s.engine], ['config', s.config?.name], ['arch', s.config?.arch], ['anonFallback', s.config?.anonFallback],
    ['batching', s.config?.batching], ['inject', (s.config?.inject ?? []).join(',')], ['seeds.first', s.seeds.first], ['seeds.count', s.seeds.count],
    ['interrupted', s.interrupted], ['traceHash', s.traceHash ?? ''], ['version', s.version],
  ];
  const ts = runTimestamp(s.runId);
  const counts = `tests="${tests}" failures="${failures}" errors="${errors}" skipped="0" time="${secs(s.wallSeconds)}"`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="foliostorm" ${counts}>`,
    `  <testsuite name="${attr(`foliostorm.${s.config?.name ?? 'run'}`)}" ${counts}${ts ? ` timestamp="${ts}"` : ''}>`,
    '    <properties>',
    ...props.map(([k, v]) => `      <property name="${attr(k)}" value="${attr(v ?? '')}"/>`),
    '    </properties>',
    cfgCase(),
    ...[...variants].map(([name, x]) => variantCase(name, x)),
    ...s.signatures.map(sigCase),
    ...unreached.map(reachCase),
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
