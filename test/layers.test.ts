// The three-layer rule (.dependency-cruiser.cjs): src/machine imports nothing of src/linux or the
// tool, src/linux imports only src/machine and itself, no import cycle between folders. Checked on
// the source tree, and on a small tree that breaks each rule, to show the check catches it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DEPCRUISE = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
  cycle?: { name: string }[];
}

/** Run dependency-cruiser with the project's rules on dirs (relative to cwd); its violations. */
function cruise(cwd: string, dirs: string[]): Violation[] {
  const r = spawnSync(process.execPath, [DEPCRUISE, ...dirs, '--config', join(ROOT, '.dependency-cruiser.cjs'), '--output-type', 'json'], { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.ok(r.stdout, `dependency-cruiser printed nothing (exit ${r.status}): ${r.stderr}`);
  return (JSON.parse(r.stdout) as { summary: { violations: Violation[] } }).summary.violations;
}

const describe = (v: Violation): string => `${v.rule.name}: ${v.from} -> ${v.to}${v.cycle ? ` (cycle ${v.cycle.map((c) => c.name).join(' -> ')})` : ''}`;

test('the source tree keeps the three-layer rule: machine <- linux <- tool, no folder cycle', () => {
  const v = cruise(ROOT, ['src', 'workers']);
  assert.deepEqual(v.map(describe), [], 'import rule violations (fix the import, or route a check through src/linux/include/linux/mmdebug.ts)');
});

test('the rule catches a kernel file importing the checker, the machine importing the kernel, and a folder cycle', () => {
  const dir = mkdtempSync(join(tmpdir(), 'foliostorm-layers-'));
  try {
    const file = (rel: string, text: string) => {
      mkdirSync(dirname(join(dir, rel)), { recursive: true });
      writeFileSync(join(dir, rel), text);
    };
    file('tsconfig.json', JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true }, include: ['src/**/*.ts'] }));
    file('src/check/invariants.ts', "export const check = (x: number): boolean => x > 0;\n");
    file('src/linux/mm/memory.ts', "import { check } from '../../check/invariants.js';\nexport const fault = (x: number): boolean => check(x);\n");
    file('src/machine/mmu.ts', "import { fault } from '../linux/mm/memory.js';\nexport const walk = (x: number): boolean => fault(x);\n");
    file('src/report/a.ts', "import { b } from '../engine/b.js';\nexport const a = (): number => b() + 1;\n");
    file('src/engine/b.ts', "import { a } from '../report/a.js';\nexport const b = (): number => (a.length ? 1 : 0);\n");
    const v = cruise(dir, ['src']).map(describe);
    assert.ok(v.includes('linux-imports-only-machine-and-linux: src/linux/mm/memory.ts -> src/check/invariants.ts'), v.join('\n'));
    assert.ok(v.includes('machine-imports-only-machine: src/machine/mmu.ts -> src/linux/mm/memory.ts'), v.join('\n'));
    assert.ok(v.some((x) => x.startsWith('no-folder-cycle: src/engine -> src/report') || x.startsWith('no-folder-cycle: src/report -> src/engine')), v.join('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
