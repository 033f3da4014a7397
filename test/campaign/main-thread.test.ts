// run keeps its main thread free (issue #18): a signal handler runs only between turns of the
// event loop, so no step of a run may hold it long. The pct step estimate (seed 0 of the config,
// run once before the seeds) took 1.5 s on the main thread for configs/nightly.json; it runs on the
// pool now. Measured as the longest gap between the ticks of a 10 ms timer from the start of the run
// to its first seed's result (the final writes, which render every histogram, are left out: they
// hold the main thread too, a few hundred ms; see docs/usage.md, Signals).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfigFile } from '../../src/config/config.js';
import { runCampaign } from '../../src/campaign/coordinator.js';
import { resolvePctSteps } from '../../src/engine/sched.js';

const NIGHTLY = fileURLToPath(new URL('../../../configs/nightly.json', import.meta.url));

test('a pct run of the nightly config: the step estimate off the main thread (the same value), no event-loop gap of 500 ms before the first seed', { timeout: 120_000 }, async (t) => {
  const cfg = { ...loadConfigFile(NIGHTLY), scheduler: 'pct' as const, seeds: 2, duration: 0 };
  const t0 = performance.now();
  let last = t0, worst = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 10);
  let r;
  try {
    r = await runCampaign(cfg, { out: mkdtempSync(join(tmpdir(), 'foliostorm-main-')), seedsGiven: true, quiet: true, version: 't', checkpointEveryMs: 0, onResult: () => clearInterval(tick) });
  } finally {
    clearInterval(tick);
  }
  t.diagnostic(`longest event-loop gap before the first result: ${Math.round(worst)} ms (the run: ${Math.round(performance.now() - t0)} ms)`);
  assert.ok(worst < 500, `the main thread was held ${Math.round(worst)} ms`);
  // the estimate measured on the pool is the one resolvePctSteps measures (run here, after the timing)
  assert.equal(r.summary.config.pctSteps, resolvePctSteps(cfg).pctSteps);
  assert.ok(r.summary.config.pctSteps > 1);
});
