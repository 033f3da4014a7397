// Config validation: every bad field is refused with a message naming the file, the path inside it,
// what was expected and what was found; unknown keys are errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ANON_FALLBACKS, ConfigError, loadConfigFile, parseConfig } from '../../src/config/config.js';
import { configForSeed } from '../../src/engine/variants.js';
import { OP_KINDS } from '../../src/workload/program.js';

const dir = mkdtempSync(join(tmpdir(), 'foliostorm-config-'));
const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

/** Write text to name in a temp folder and load it: the ConfigError's message. */
function refused(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  try {
    loadConfigFile(f);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    assert.ok(e.message.startsWith(`${f}: `), `the message names the file: ${e.message}`);
    return e.message.replaceAll(f, name);
  }
  assert.fail(`${name} was accepted: ${text}`);
}

// what: [file content, the exact message (file name shortened to the case's name)]
const CASES: [string, unknown, string][] = [
  ['wrong type', { cpus: '4' }, 'field "cpus": expected a number, found "4" (a string)'],
  ['fractional where an integer is needed', { opsPerCpu: 12.5 }, 'field "opsPerCpu": expected an integer, found 12.5'],
  ['negative size', { memoryPages: -4096 }, 'field "memoryPages": expected at least 1024, found -4096'],
  ['negative weight (nested)', { weights: { fork: -1 } }, 'field "weights.fork": expected at least 0, found -1'],
  ['order out of range', { anonOrders: [0, 2, 10] }, 'field "anonOrders.2": expected at most 9, found 10'],
  ['order 1 for anon', { anonOrders: [0, 1, 4] }, 'field "anonOrders": order 1 is never used for anon folios (THP needs order >= 2): expected orders 0 and 2 to 9, found [0,1,4]'],
  ['duration garbage', { duration: 'soon' }, 'field "duration": expected seconds (a number >= 0) or a duration such as "90s", "30m", "2h", found "soon"'],
  ['negative duration', { duration: -5 }, 'field "duration": expected seconds (a number >= 0) or a duration such as "90s", "30m", "2h", found -5'],
  ['unknown key at top level (a typo)', { anonFalback: 'refault' }, 'field "anonFalback": unknown key (did you mean "anonFallback"?)'],
  ['unknown key with two letters swapped', { engnie: 'sched' }, 'field "engnie": unknown key (did you mean "engine"?)'],
  ['an enum value with a typo', { engine: 'thread' }, 'field "engine": expected one of "sched", "threads", found "thread" (did you mean "threads"?)'],
  ['unknown key nested', { weights: { touch: 10, zap: 3 } }, 'field "weights.zap": unknown key (allowed: touch, mmap, munmap, dontneed, exit, fork, pin, unpin, pinio, mremap, dontfork, mmapfile, writeback, mprotect, forkexit, migrate, reclaim, cold, free, pageout)'],
  ['mmapPages min > max', { mmapPages: { min: 64, max: 16 } }, 'field "mmapPages.min": expected at most mmapPages.max (16), found 64'],
  ['a required nested field missing', { mmapPages: { min: 4 } }, 'field "mmapPages.max": expected a number, found nothing (the field is missing)'],
  ['memoryPages not a power of two', { memoryPages: 5000 }, 'field "memoryPages": expected a power of two, found 5000'],
  ['vaSize not a multiple of 2 MiB', { vaSize: 3 << 20 }, 'field "vaSize": expected a multiple of 2 MiB (2097152), found 3145728'],
  ['bad enum value', { anonFallback: 'sometimes' }, 'field "anonFallback": expected one of "refault", "retry-lower", "preferred-or-0", found "sometimes"'],
  ['bad nested enum value', { files: { writenotify: 'maybe' } }, 'field "files.writenotify": expected one of "both", "on", "off", found "maybe"'],
  ['too many of something', { cpus: 17 }, 'field "cpus": expected at most 16, found 17'],
  ['a boolean given as a string', { batching: 'yes' }, 'field "batching": expected true or false, found "yes" (a string)'],
  ['a number where an array is needed', { anonOrders: 4 }, 'field "anonOrders": expected an array, found 4'],
  ['an array where an object is needed', { weights: [1, 2] }, 'field "weights": expected an object, found [1,2] (an array)'],
  ['alignment not a power of two', { mmapAlign: [1, 3] }, 'field "mmapAlign.1": expected a power of two, found 3'],
  ['a share out of range', { writeRatio: 1.5 }, 'field "writeRatio": expected at most 1, found 1.5'],
  ['not an object at all', [1, 2], 'expected an object, found [1,2] (an array)'],
];

for (const [what, content, message] of CASES) {
  test(`config: ${what}`, () => {
    const name = `${what.replace(/\W+/g, '-')}.json`;
    assert.equal(refused(name, JSON.stringify(content)), `${name}: ${message}`);
  });
}

test('config: every bad field is reported, one line each', () => {
  const m = refused('many.json', JSON.stringify({ cpus: 0, arch: 'x86', weights: { touch: 'a lot' } }));
  const lines = m.split('\n').sort();
  assert.deepEqual(lines, [
    'many.json: field "arch": expected one of "generic", "contpte", found "x86"',
    'many.json: field "cpus": expected at least 1, found 0',
    'many.json: field "weights.touch": expected a number, found "a lot" (a string)',
  ]);
});

test('config: bad JSON and an unreadable file name the file and say why', () => {
  assert.match(refused('broken.json', '{"cpus": 2,'), /^broken\.json: not valid JSON: /);
  // a folder where a file is expected: unreadable
  assert.throws(() => loadConfigFile(dir), (e: unknown) => e instanceof ConfigError && e.message.startsWith(`${dir}: cannot read config file: `) && /EISDIR/.test(e.message));
});

test('config: durations in a file may be written as on the command line', () => {
  assert.equal(parseConfig({ duration: '30m' }).duration, 1800);
  assert.equal(parseConfig({ duration: '1.5h' }).duration, 5400);
  assert.equal(parseConfig({ duration: 45 }).duration, 45);
  assert.equal(parseConfig({}).duration, 0);
});

test('config: a flag that overrides a field is named as the flag', () => {
  assert.throws(() => parseConfig({ seeds: 1.5 }, 'smoke.json', ['seeds']), { message: '--seeds: expected an integer, found 1.5' });
});

test('config: an unknown deviation in a config file is refused by run (exit 2), naming the file and the entry', () => {
  const f = join(dir, 'inject.json');
  writeFileSync(f, JSON.stringify({ inject: ['fault-no-recheck', 'no-such-bug'] }));
  const r = spawnSync(process.execPath, [CLI, 'run', '--config', f], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr.trim(), `foliostorm: ${f}: field "inject.1": unknown deviation "no-such-bug" (expected a name that npx foliostorm bugs lists)`);
});

test('configs/nightly.json: every operation family weighted, both PTE layers, every fallback policy and the per-PTE paths across its variants', () => {
  const cfg = loadConfigFile(fileURLToPath(new URL('../../../configs/nightly.json', import.meta.url)));
  for (const k of OP_KINDS) assert.ok((cfg.weights[k] ?? 0) > 0, `weight ${k}`);
  assert.ok(cfg.files.count > 0 && cfg.files.writenotify === 'both', 'file mappings of both write-notify kinds');
  const vs = Array.from({ length: cfg.variants!.length }, (_, s) => configForSeed(cfg, s));
  assert.deepEqual(new Set(vs.map((c) => c.arch)), new Set(['generic', 'contpte']));
  assert.deepEqual(new Set(vs.map((c) => c.anonFallback)), new Set(ANON_FALLBACKS));
  for (const arch of ['generic', 'contpte']) assert.ok(vs.some((c) => c.arch === arch && !c.batching), `per-PTE paths on ${arch}`);
  assert.equal(new Set(vs.map((c) => c.name)).size, vs.length, 'variants tell apart by name');
  assert.ok(cfg.duration >= 3600 && cfg.seeds >= 1e6, 'sized for a long run: the duration bounds it');
});

test('run flags: --max-failures 0 and 1.5, --duration garbage and --progress-every garbage exit 2 naming the flag', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [CLI, 'run', '--seeds', '1', ...args], { encoding: 'utf8', timeout: 60_000 });
  for (const [args, msg] of [
    [['--max-failures', '0'], /^foliostorm: --max-failures: expected an integer >= 1, found 0$/],
    [['--max-failures', '1.5'], /^foliostorm: --max-failures: expected an integer >= 1, found 1\.5$/],
    [['--duration', 'soon'], /^foliostorm: --duration: /],
    [['--progress-every', '-3'], /^foliostorm: --progress-every: /],
  ] as [string[], RegExp][]) {
    const r = run(...args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr.trim(), msg);
  }
});
