// Model variants (config `variants`): seed s runs variant s mod V; a seed's run is byte for byte the
// run of its effective config, which its artifact records, so repro replays the right model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, type ConfigInput, defaultConfig, parseConfig } from '../../src/config/config.js';
import { configForSeed, variantOf } from '../../src/engine/variants.js';
import { runSched } from '../../src/engine/sched.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const small: ConfigInput = {
  name: 'v', opsPerCpu: 60, cpus: 2,
  variants: [{ arch: 'generic', anonFallback: 'refault' }, { arch: 'contpte', anonFallback: 'retry-lower' }, { name: 'ref', batching: false, anonOrders: [0, 4] }],
};

test('variants: seed s gets variant s mod V, laid over the config, named after it, with no variants left', () => {
  const cfg = defaultConfig(small);
  const c4 = configForSeed(cfg, 4); // 4 mod 3 = 1
  assert.equal(c4.arch, 'contpte');
  assert.equal(c4.anonFallback, 'retry-lower');
  assert.equal(c4.name, 'v/contpte+retry-lower');
  assert.equal('variants' in c4, false);
  assert.equal(c4.opsPerCpu, 60);
  const c6 = configForSeed(cfg, 6); // 0
  assert.equal(c6.arch, 'generic');
  assert.equal(variantOf(cfg, 6), 'generic+refault');
  const c8 = configForSeed(cfg, 8); // 2: a named variant; unset fields keep the config's
  assert.equal(c8.name, 'v/ref');
  assert.equal(c8.batching, false);
  assert.deepEqual(c8.anonOrders, [0, 4]);
  assert.equal(c8.arch, cfg.arch);
  // the effective config is a plain config: it validates, and has no variant to apply again
  assert.deepEqual(configForSeed(parseConfig(c4), 4), parseConfig(c4));
  // no variants: the same object, so nothing about such a run changes
  const plain = defaultConfig({ opsPerCpu: 60 });
  assert.equal(configForSeed(plain, 5), plain);
  assert.equal(variantOf(plain, 5), undefined);
});

test('variants: a seed runs byte for byte as its effective config alone, and variants differ', () => {
  const cfg = defaultConfig(small);
  const hashes = [3, 4, 5].map((seed) => {
    const a = runSched(cfg, seed);
    const b = runSched(configForSeed(cfg, seed), seed);
    assert.equal(a.traceHash, b.traceHash, `seed ${seed}`);
    assert.equal(a.variant, variantOf(cfg, seed));
    assert.equal(b.variant, undefined);
    return a.traceHash;
  });
  assert.equal(new Set(hashes).size, 3);
  // the variant is in the effective config: seed 4 under variant 0's settings is another run
  assert.notEqual(runSched({ ...configForSeed(cfg, 4), arch: 'generic', anonFallback: 'refault' }, 4).traceHash, hashes[1]);
});

test('variants: each is validated like the config (order 1, unknown keys, bad values), naming its index', () => {
  const bad = (variants: unknown[], msg: string) => assert.throws(() => parseConfig({ variants }, 'n.json'), (e: unknown) => e instanceof ConfigError && e.message === msg);
  bad([{ arch: 'generic' }, { anonOrders: [0, 1] }], 'n.json: field "variants.1.anonOrders": order 1 is never used for anon folios (THP needs order >= 2): expected orders 0 and 2 to 9, found [0,1]');
  bad([{ arch: 'contpte', cpus: 4 }], 'n.json: field "variants.0.cpus": unknown key (allowed: name, arch, anonFallback, kernel, batching, anonOrders, fragmentation, allocFailRate, memcgFailRate, mmapPages)');
  bad([{ mmapPages: { min: 600, max: 512 } }], 'n.json: field "variants.0.mmapPages.min": expected at most mmapPages.max (512), found 600');
  bad([{ anonFallback: 'never' }], 'n.json: field "variants.0.anonFallback": expected one of "refault", "retry-lower", "preferred-or-0", found "never"');
  bad([], 'n.json: field "variants": expected at least 1 entry, found []');
});

test('variants: run records each seed\'s variant, and a violation\'s artifact holds the config its seed ran (repro reproduces)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'foliostorm-variants-'));
  const f = join(dir, 'v.json');
  // fault-order1's provoking mix (src/inject/deviations.ts): most seeds find it, each in a few ms
  writeFileSync(f, JSON.stringify({ name: 'v', inject: ['fault-order1'], opsPerCpu: 100, variants: [{ arch: 'contpte', anonFallback: 'retry-lower' }, { arch: 'generic', anonFallback: 'preferred-or-0' }] }));
  const out = join(dir, 'out');
  const r = spawnSync(process.execPath, [CLI, 'run', '-c', f, '--seed', '1', '--seeds', '4', '--out', out], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 1, r.stderr + r.stdout);
  assert.match(r.stdout, /variants {2}generic\+preferred-or-0 2 seeds.* contpte\+retry-lower 2 seeds/);
  const s = JSON.parse(readFileSync(join(out, readdirSync(out)[0], 'summary.json'), 'utf8'));
  assert.deepEqual(s.stop, { reason: 'seeds', detail: 'every seed ran' });
  for (const p of s.perSeed) assert.equal(p.variant, p.seed % 2 ? 'generic+preferred-or-0' : 'contpte+retry-lower');
  const v = s.violations.find((x: { artifact?: string }) => x.artifact);
  assert.ok(v, 'the deviation is found');
  assert.equal(v.variant, v.seed % 2 ? 'generic+preferred-or-0' : 'contpte+retry-lower');
  const art = JSON.parse(readFileSync(v.artifact, 'utf8'));
  assert.equal(art.config.name, `v/${v.variant}`);
  assert.equal(art.config.arch, v.seed % 2 ? 'generic' : 'contpte');
  assert.equal(art.config.variants, undefined);
  const p = spawnSync(process.execPath, [CLI, 'repro', v.artifact], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(p.status, 0, p.stdout + p.stderr);
});

test('variants: a variant may name the kernel profile its model follows (the nightly runs one in 6.12); an unknown one is refused', () => {
  const cfg = parseConfig({ variants: [{ arch: 'generic', kernel: '6.12' }, { arch: 'contpte' }] }, 'k.json');
  assert.equal(configForSeed(cfg, 0).kernel, '6.12');
  assert.equal(configForSeed(cfg, 1).kernel, undefined);
  assert.throws(() => parseConfig({ variants: [{ kernel: '6.1' }] }, 'k.json'), /variants\.0\.kernel/);
});
