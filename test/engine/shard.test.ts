// --shard K/N: parsing (and JOB_COMPLETION_INDEX), the seed slices, and the CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JOB_INDEX_ENV, parseShard, ShardError, shardOf, shardSeedCount, shardSeeds } from '../../src/engine/shard.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const tmp = () => mkdtempSync(join(tmpdir(), 'foliostorm-test-'));
const run = (args: string[], env: NodeJS.ProcessEnv = {}) => {
  const e = { ...process.env, ...env };
  if (env[JOB_INDEX_ENV] === undefined) delete e[JOB_INDEX_ENV];
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000, env: e });
};

test('parseShard accepts K/N with 1 <= K <= N', () => {
  assert.deepEqual(parseShard('1/1'), { index: 1, count: 1 });
  assert.deepEqual(parseShard('2/4'), { index: 2, count: 4 });
  assert.deepEqual(parseShard(' 4 / 4 '), { index: 4, count: 4 });
});

test('parseShard rejects bad specs with a message naming --shard and what is wrong', () => {
  const bad: [string, RegExp][] = [
    ['0/4', /index K must be an integer from 1 to 4/],
    ['5/4', /index K must be an integer from 1 to 4/],
    ['x/4', /index K must be an integer from 1 to 4/],
    ['-1/4', /index K/],
    ['1.5/4', /index K/],
    ['2/0', /count N must be an integer >= 1/],
    ['2/x', /count N/],
    ['2', /is not K\/N/],
    ['', /is not K\/N/],
    ['1/2/3', /is not K\/N/],
  ];
  for (const [spec, msg] of bad) {
    assert.throws(() => parseShard(spec, {}), (e: Error) => e instanceof ShardError && /^--shard/.test(e.message) && msg.test(e.message), spec);
  }
});

test('auto/N takes K from JOB_COMPLETION_INDEX (0-based) and says when it is missing or out of range', () => {
  assert.deepEqual(parseShard('auto/4', { [JOB_INDEX_ENV]: '0' }), { index: 1, count: 4 });
  assert.deepEqual(parseShard('auto/4', { [JOB_INDEX_ENV]: '3' }), { index: 4, count: 4 });
  const err = (env: NodeJS.ProcessEnv, msg: RegExp) =>
    assert.throws(() => parseShard('auto/4', env), (e: Error) => e instanceof ShardError && e.message.includes('--shard auto/4') && e.message.includes(JOB_INDEX_ENV) && msg.test(e.message));
  err({}, /is not set/);
  err({ [JOB_INDEX_ENV]: '' }, /is not set/);
  err({ [JOB_INDEX_ENV]: '4' }, /=4 is out of range for 4 shards \(0 to 3/);
  err({ [JOB_INDEX_ENV]: 'two' }, /is not a 0-based index/);
  err({ [JOB_INDEX_ENV]: '-1' }, /is not a 0-based index/);
});

test('the shards of a run partition its seeds: disjoint, complete, each seed where shardOf says', () => {
  for (const first of [0, 1, 17]) {
    for (let n = 1; n <= 5; n++) {
      for (let total = 0; total <= 13; total++) {
        const all: number[] = [];
        for (let k = 1; k <= n; k++) {
          const s = shardSeeds(first, total, { index: k, count: n });
          assert.equal(s.length, shardSeedCount(total, { index: k, count: n }));
          for (const x of s) assert.equal(shardOf(x, first, n), k, `seed ${x} of ${first}+${total} in shard ${k}/${n}`);
          all.push(...s);
        }
        assert.deepEqual(all.sort((a, b) => a - b), Array.from({ length: total }, (_, i) => first + i), `${first}+${total} over ${n}`);
      }
    }
  }
  assert.deepEqual(shardSeeds(1, 10, { index: 2, count: 4 }), [2, 6, 10]);
  assert.deepEqual(shardSeeds(1, 2, { index: 3, count: 4 }), []);
});

test('run --shard: a bad spec and a missing JOB_COMPLETION_INDEX exit 2 naming --shard', () => {
  const r = run(['run', '--shard', '5/4', '--seeds', '1', '--out', tmp()]);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--shard: "5\/4": the shard index K must be an integer from 1 to 4/);
  const a = run(['run', '--shard', 'auto/4', '--seeds', '1', '--out', tmp()]);
  assert.equal(a.status, 2, a.stderr);
  assert.match(a.stderr, /--shard auto\/4: \$JOB_COMPLETION_INDEX is not set/);
});

test('run --duration 1s --shard auto/3 with JOB_COMPLETION_INDEX=1 runs seeds 2, 5, 8, ... and records the shard', () => {
  const dir = tmp();
  const cfg = join(dir, 'small.json');
  writeFileSync(cfg, JSON.stringify({ name: 'shard-test', cpus: 2, opsPerCpu: 20, workers: 1 }));
  const out = join(dir, 'results');
  const r = run(['run', '--config', cfg, '--duration', '1s', '--shard', 'auto/3', '--out', out, '--json'], { [JOB_INDEX_ENV]: '1' });
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  assert.deepEqual(s.shard, { index: 2, count: 3 });
  assert.ok(s.seeds.count >= 1);
  assert.deepEqual(s.seeds.list, Array.from({ length: s.seeds.count }, (_, i) => 2 + 3 * i));
  const [folder] = readdirSync(out);
  assert.match(folder, /-sched-shard2of3-seed1-/);
  assert.deepEqual(JSON.parse(readFileSync(join(out, folder, 'summary.json'), 'utf8')).shard, { index: 2, count: 3 });
});
