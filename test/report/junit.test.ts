// junit.xml: written by every run; parsed back with a strict XML parser and checked case by case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configCaseName, renderJunit, runTimestamp } from '../../src/report/junit.js';
import type { Summary } from '../../src/report/summary.js';
import { findAll, parseXml, type XmlNode } from '../helpers/xml.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'foliostorm-junit-'));
const ran = spawnSync(process.execPath, [CLI, 'run', '--inject', 'fault-order1', '--seeds', '2', '--out', out], { encoding: 'utf8', timeout: 120_000 });
const dir = join(out, readdirSync(out)[0]);
const summary = (): Summary => JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));

const ALLOWED: Record<string, string[]> = {
  testsuites: ['testsuite'],
  testsuite: ['properties', 'testcase', 'system-out', 'system-err'],
  properties: ['property'],
  property: [],
  testcase: ['failure', 'error', 'skipped', 'system-out', 'system-err'],
  failure: [], error: [], skipped: [], 'system-out': [], 'system-err': [],
};
const num = (n: XmlNode, a: string): number => {
  assert.match(n.attrs[a] ?? '', /^\d+(\.\d+)?$/, `${n.name}@${a}="${n.attrs[a]}"`);
  return Number(n.attrs[a]);
};

/**
 * The common JUnit XML shape that GitHub Actions report actions, GitLab and Jenkins read: only the
 * elements they know, where they belong; at most one outcome per test case; the counts and times on
 * <testsuites> and <testsuite> agree with the cases. Returns the suite's test cases.
 */
function checkJunit(xml: string): XmlNode[] {
  assert.ok(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>'));
  const root = parseXml(xml);
  const walk = (n: XmlNode): void => {
    assert.ok(n.name in ALLOWED, `unknown element <${n.name}>`);
    for (const c of n.children) assert.ok(ALLOWED[n.name].includes(c.name), `<${c.name}> inside <${n.name}>`);
    n.children.forEach(walk);
  };
  walk(root);
  assert.equal(root.name, 'testsuites');
  const suites = findAll(root, 'testsuite');
  assert.equal(suites.length, 1, 'one testsuite');
  const [suite] = suites;
  const cases = findAll(suite, 'testcase');
  const outcome = (c: XmlNode) => c.children.filter((x) => ['failure', 'error', 'skipped'].includes(x.name));
  for (const c of cases) {
    assert.ok(c.attrs.name && c.attrs.classname, 'name and classname');
    num(c, 'time');
    assert.ok(outcome(c).length <= 1, `${c.attrs.name}: one outcome at most`);
  }
  const count = (k: string) => cases.filter((c) => outcome(c)[0]?.name === k).length;
  for (const n of [root, suite]) {
    assert.equal(num(n, 'tests'), cases.length, `${n.name}@tests`);
    assert.equal(num(n, 'failures'), count('failure'), `${n.name}@failures`);
    assert.equal(num(n, 'errors'), count('error'), `${n.name}@errors`);
    assert.equal(num(n, 'skipped'), count('skipped'), `${n.name}@skipped`);
    assert.ok(Math.abs(num(n, 'time') - cases.reduce((a, c) => a + num(c, 'time'), 0)) < 0.01, `${n.name}@time`);
  }
  for (const p of findAll(suite, 'property')) assert.ok(p.attrs.name && 'value' in p.attrs);
  return cases;
}

const outcomeOf = (c: XmlNode): XmlNode | undefined => c.children.find((x) => ['failure', 'error', 'skipped'].includes(x.name));

test('a run with violations writes junit.xml: a failing case per signature with the replay commands, and a failing config case', () => {
  assert.equal(ran.status, 1, ran.stderr + ran.stdout);
  const s = summary();
  assert.ok(s.signatures.length >= 1);
  const cases = checkJunit(readFileSync(join(dir, 'junit.xml'), 'utf8'));
  assert.equal(cases.length, s.signatures.length + 1);
  const cfg = cases.find((c) => c.attrs.classname === 'foliostorm.config')!;
  assert.equal(cfg.attrs.name, configCaseName(s));
  assert.equal(cfg.attrs.name, 'smoke [sched]');
  assert.equal(Number(cfg.attrs.time), Number(s.wallSeconds.toFixed(3)));
  assert.equal(outcomeOf(cfg)?.name, 'failure');
  assert.match(outcomeOf(cfg)!.attrs.message, new RegExp(`^${s.violations.length} violation\\(s\\) in ${s.signatures.length} signature`));
  for (const g of s.signatures) {
    const c = cases.find((x) => x.attrs.classname === 'foliostorm.signature' && x.attrs.name === g.signature);
    assert.ok(c, `a case for ${g.signature}`);
    const f = outcomeOf(c)!;
    assert.equal(f.name, 'failure');
    assert.equal(f.attrs.type, g.invariant);
    const first = s.violations.find((v) => v.signature === g.signature && v.seed === g.smallestSeed)!;
    assert.equal(f.attrs.message, `${g.invariant} at ${g.path}: ${JSON.stringify(first.details)}`);
    assert.match(f.text, new RegExp(`^count: +${g.count}$`, 'm'));
    assert.match(f.text, new RegExp(`^smallest seed: ${g.smallestSeed}$`, 'm'));
    for (const a of g.artifacts) {
      assert.ok(f.text.includes(`  npx foliostorm repro ${a}\n`) || f.text.endsWith(`  npx foliostorm repro ${a}`), `replay ${a}`);
      assert.ok(existsSync(a));
    }
  }
  const suite = findAll(parseXml(readFileSync(join(dir, 'junit.xml'), 'utf8')), 'testsuite')[0];
  assert.equal(suite.attrs.timestamp, runTimestamp(s.runId));
  assert.match(suite.attrs.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
  assert.ok(findAll(suite, 'property').some((p) => p.attrs.name === 'runId' && p.attrs.value === s.runId));
});

test('a clean run: one passing config case; interrupted: an error (no violations) or a failure (violations)', () => {
  const s = summary();
  const clean = { ...s, violations: [], signatures: [] };
  const cases = checkJunit(renderJunit(clean));
  assert.equal(cases.length, 1);
  assert.equal(outcomeOf(cases[0]), undefined, 'passing');

  const stopped = checkJunit(renderJunit({ ...clean, interrupted: true }));
  assert.equal(stopped.length, 1);
  const e = outcomeOf(stopped[0])!;
  assert.equal(e.name, 'error');
  assert.equal(e.attrs.type, 'interrupted');
  assert.match(e.attrs.message, /^run interrupted after 2 seed\(s\) 1\.\.2 in [\d.]+ s; no violations until then$/);

  const stoppedFailing = checkJunit(renderJunit({ ...s, interrupted: true }));
  const cfg = stoppedFailing.find((c) => c.attrs.classname === 'foliostorm.config')!;
  assert.equal(outcomeOf(cfg)!.name, 'failure');
  assert.match(outcomeOf(cfg)!.attrs.message, /\(run interrupted\)/);
  assert.equal(stoppedFailing.filter((c) => outcomeOf(c)?.name === 'failure').length, s.signatures.length + 1);
});

test('a run on model variants: one case per variant, failing for the variants whose seeds had violations', () => {
  const s = summary();
  assert.ok(s.violations.length > 0);
  // seed 1 ran variant "generic", seed 2 "contpte+retry-lower"; only seed 2 keeps its violations
  const variantOf = (seed: number) => (seed % 2 ? 'generic' : 'contpte+retry-lower');
  const v: Summary = {
    ...s,
    config: { ...s.config, variants: [{ arch: 'generic' }, { arch: 'contpte', anonFallback: 'retry-lower' }] },
    perSeed: s.perSeed.map((p) => ({ ...p, variant: variantOf(p.seed) })),
    violations: s.violations.map((x) => ({ ...x, seed: 2, variant: variantOf(2) })),
  };
  const cases = checkJunit(renderJunit(v));
  const vc = cases.filter((c) => c.attrs.classname === 'foliostorm.variant');
  assert.deepEqual(vc.map((c) => c.attrs.name), [`${s.config.name}/generic [sched]`, `${s.config.name}/contpte+retry-lower [sched]`]);
  assert.equal(outcomeOf(vc[0]), undefined, 'generic: no violations');
  const f = outcomeOf(vc[1])!;
  assert.equal(f.name, 'failure');
  assert.equal(f.attrs.message, `${s.violations.length} violation(s) in ${s.signatures.length} signature(s): ${[...new Set(s.violations.map((x) => x.signature))].join(', ')}`);
  assert.equal(cases.length, 1 + 2 + s.signatures.length);
  // a config without variants has no variant cases
  assert.equal(checkJunit(renderJunit(s)).filter((c) => c.attrs.classname === 'foliostorm.variant').length, 0);
});

test('junit.xml escapes hostile strings: they parse back unchanged (characters XML cannot hold as \\uXXXX)', () => {
  const s = summary();
  const evil = `a<b>&c"d'e]]><!-- x --></testcase>\nline2`;
  const g = { ...s.signatures[0], signature: `sig ${evil}`, invariant: `inv ${evil}`, artifacts: [`failures/${evil}.json`] };
  const v = { ...s.violations.find((x) => x.signature === s.signatures[0].signature && x.seed === s.signatures[0].smallestSeed)!, signature: g.signature, details: { why: evil } };
  const hostile: Summary = { ...s, config: { ...s.config, name: `cfg ${evil}\u0001` }, runId: `run ${evil}`, signatures: [g], violations: [v] };
  const xml = renderJunit(hostile);
  const cases = checkJunit(xml);
  const c = cases.find((x) => x.attrs.classname === 'foliostorm.signature')!;
  assert.equal(c.attrs.name, `sig ${evil}`, 'attribute round-trips, newline included');
  const f = outcomeOf(c)!;
  assert.equal(f.attrs.type, `inv ${evil}`);
  assert.ok(f.text.includes(`npx foliostorm repro failures/${evil}.json`));
  const cfg = cases.find((x) => x.attrs.classname === 'foliostorm.config')!;
  assert.equal(cfg.attrs.name, `cfg ${evil}\\u0001 [sched]`);
  // a long message is clipped; the body keeps everything
  const long = renderJunit({ ...hostile, violations: [{ ...v, details: { big: 'x'.repeat(5000) } }] });
  const lf = outcomeOf(checkJunit(long).find((x) => x.attrs.classname === 'foliostorm.signature')!)!;
  assert.ok(lf.attrs.message.length <= 300 && lf.attrs.message.endsWith('...'));
  assert.ok(lf.text.includes('x'.repeat(5000)));
});
