// The scenario steps conform added (issue 16): `observe` (record without asserting) and `thp`
// (the per-size mTHP policy from that step on): they parse, bad values are named (exit 2), the
// model's faults follow the policy, and the executor gets the sysfs writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseScenario, ScenarioFormatError } from '../../src/scenario/format.js';
import { compileScenario } from '../../src/conform/compile.js';
import { observeModel } from '../../src/conform/observe.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const CLI = join(ROOT, 'dist', 'src', 'cli.js');
const MMAP = { op: 'mmap', proc: 'A', addr: '0x400000', len: '0x40000', prot: 'rw', kind: 'anon' };
const sc = (steps: unknown[], config: unknown = { anonOrders: [0] }) => parseScenario(JSON.stringify({ config, steps }), 't.json');

test('thp and observe steps parse: the size\'s order, the settings given, nothing else', () => {
  const s = sc([MMAP, { op: 'thp', size: '64K', enabled: 'always' }, { op: 'thp', size: '2M', enabled: 'never', shmemEnabled: 'within_size' }, { op: 'observe', comment: 'look' }]);
  assert.deepEqual(s.steps[1], { index: 1, op: 'thp', size: '64K', order: 4, enabled: 'always' });
  assert.deepEqual(s.steps[2], { index: 2, op: 'thp', size: '2M', order: 9, enabled: 'never', shmemEnabled: 'within_size' });
  assert.deepEqual(s.steps[3], { index: 3, op: 'observe', comment: 'look' });
});

test('thp and observe steps: bad values are named with step, op and field', () => {
  const refuses = (step: unknown, field: string | undefined, msg: RegExp) => {
    try {
      sc([MMAP, step]);
    } catch (e) {
      assert.ok(e instanceof ScenarioFormatError);
      assert.equal(e.step, 1);
      assert.equal(e.field, field);
      assert.match(e.message, msg);
      return;
    }
    assert.fail(`accepted ${JSON.stringify(step)}`);
  };
  refuses({ op: 'thp', size: '48K', enabled: 'always' }, 'size', /expected one of "16K", "32K", .*"2M", found "48K"/);
  refuses({ op: 'thp', size: '8K', enabled: 'always' }, 'size', /found "8K"/);
  refuses({ op: 'thp', size: '64K', enabled: 'sometimes' }, 'enabled', /expected one of "always", "inherit", "madvise", "never", found "sometimes"/);
  refuses({ op: 'thp', size: '64K', shmemEnabled: 'madvise' }, 'shmemEnabled', /expected one of "always", "inherit", "within_size", "advise", "never", found "madvise"/);
  refuses({ op: 'thp', size: '64K' }, undefined, /expected at least one of enabled, shmemEnabled/);
  refuses({ op: 'observe', proc: 'A' }, 'proc', /unknown key \(allowed: op, comment\)/);
});

test('thp and observe: the scenario command exits 2 on a bad value, naming the file, step and field', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fs-steps-'));
  const f = join(dir, 'bad.json');
  writeFileSync(f, JSON.stringify({ steps: [MMAP, { op: 'thp', size: '64K', enabled: 'alwayz' }] }));
  const r = spawnSync(process.execPath, [CLI, 'scenario', f], { encoding: 'utf8' });
  assert.equal(r.status, 2, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, /bad\.json: step 1 \(op "thp"\): field "enabled": expected one of/);
});

test('thp: the model\'s later anon faults choose from the new per-size policy; observe changes nothing', () => {
  const s = sc([
    MMAP,
    { op: 'write', proc: 'A', addr: '0x400000', len: '0x1000' }, // order 0: only 0 enabled
    { op: 'thp', size: '64K', enabled: 'always' },
    { op: 'write', proc: 'A', addr: '0x410000', len: '0x1000' }, // order 4
    { op: 'thp', size: '64K', enabled: 'inherit' }, // top level never: off again
    { op: 'thp', size: '16K', enabled: 'always' },
    { op: 'observe' },
    { op: 'write', proc: 'A', addr: '0x420000', len: '0x1000' }, // order 2
    { op: 'thp', size: '16K', enabled: 'madvise' },
    { op: 'write', proc: 'A', addr: '0x430000', len: '0x1000' }, // order 0 (no MADV_HUGEPAGE)
  ]);
  const { result, obs } = observeModel(s);
  assert.equal(result.status, 'pass', result.message);
  const last = obs.steps[obs.steps.length - 1].pages;
  const orderAt = (a: number) => last.find((p) => p.addr === a)!.order;
  assert.deepEqual([orderAt(0x400000), orderAt(0x410000), orderAt(0x420000), orderAt(0x430000)], [0, 4, 2, 0]);
  assert.deepEqual(obs.steps[6].pages, obs.steps[5].pages, 'observe is a no-op');
  assert.deepEqual(obs.steps[3].anonAlloc, { 4: 1 });
});

test('thp: compiled to the sysfs writes of that size; observe to the observations only', () => {
  const s = sc([MMAP, { op: 'thp', size: '64K', enabled: 'always', shmemEnabled: 'advise' }, { op: 'thp', size: '2M', enabled: 'never' }, { op: 'observe' }]);
  const lines = compileScenario(s, 0);
  const at = (k: number) => lines.slice(lines.indexOf(`step ${k}`) + 1, lines.indexOf(`step ${k + 1}`) < 0 ? lines.length - 1 : lines.indexOf(`step ${k + 1}`));
  assert.deepEqual(at(1), ['thp 64 always', 'thp-shmem 64 advise', 'observe A 0x400000 0x40000']);
  assert.deepEqual(at(2), ['thp 2048 never', 'observe A 0x400000 0x40000']);
  assert.deepEqual(at(3), ['observe A 0x400000 0x40000']);
});
