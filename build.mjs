#!/usr/bin/env node
// The one build: `node build.mjs [--clean]`, used by npm's prepare, build, test and test:browser.
// --clean first empties dist/ (so a deleted source's compiled copy can never run), then tsc
// compiles everything, src/build/strip-generators writes the stripped threads code (dist/threads),
// and the CLI is made executable: tsc writes files without the x bit, and `npx foliostorm` runs
// dist/src/cli.js directly (without this, a rebuild after `npm ci` broke npx: "Permission denied").
// Plain JavaScript because it runs before anything is compiled.
import { spawnSync } from 'node:child_process';
import { chmodSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';

const run = (args) => {
  const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
if (process.argv.includes('--clean')) rmSync('dist', { recursive: true, force: true });
run([createRequire(import.meta.url).resolve('typescript/bin/tsc'), '-p', 'tsconfig.json']);
run(['dist/src/build/strip-generators.js']);
chmodSync('dist/src/cli.js', 0o755);
