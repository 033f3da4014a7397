// report.html in a real browser: headless Chromium (Debian's chromium package, driven by
// playwright-core, which downloads no browser) loads the page a run wrote and finds every plot
// rendered: laid out with a size, its curve or bars drawn, their colour on the screenshot, and no
// request leaving the page. Registered only when Chromium is installed (/usr/bin/chromium or
// $CHROMIUM); otherwise it says how to install it. `npm run test:browser` requires it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { countColour, decodePng } from '../helpers/png.js';
import { PALETTE } from '../../src/report/svg.js';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const REQUIRED = process.env.FOLIOSTORM_BROWSER_TEST === 'require';
const HOW = 'install it with: apt-get install -y chromium (or point CHROMIUM at a Chromium binary), then run: npm run test:browser';

if (!existsSync(CHROMIUM)) {
  if (REQUIRED) {
    test('headless Chromium is installed for the browser test of report.html', () => {
      assert.fail(`no Chromium at ${CHROMIUM}: ${HOW}`);
    });
  } else {
    console.log(`browser test of report.html not run: no Chromium at ${CHROMIUM}; ${HOW}`);
  }
} else {
  test('report.html renders its plots in headless Chromium, with no network request', { timeout: 180_000 }, async (t) => {
    const { chromium } = await import('playwright-core');
    const out = mkdtempSync(join(tmpdir(), 'foliostorm-browser-'));
    const cli = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
    const r = spawnSync(process.execPath, [cli, 'run', '--inject', 'fault-order1', '--seeds', '4', '--out', out], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 1, r.stderr + r.stdout);
    const dir = join(out, readdirSync(out)[0]);
    const latency = Object.keys(JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')).latency);

    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1320, height: 900 }, deviceScaleFactor: 1 });
      const requests: string[] = [];
      const errors: string[] = [];
      page.on('request', (q) => {
        if (!q.url().startsWith('file:')) requests.push(q.url());
      });
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      await page.goto(pathToFileURL(join(dir, 'report.html')).href, { waitUntil: 'load' });
      const plots = await page.evaluate(() => [...document.querySelectorAll<SVGSVGElement>('svg.plot')].map((svg) => {
        const r = svg.getBoundingClientRect();
        const line = svg.querySelector<SVGPathElement>('path.line');
        const bars = [...svg.querySelectorAll<SVGRectElement>('rect.bar')].map((b) => b.getBBox());
        return {
          kind: svg.dataset.plot, name: svg.dataset.histogram ?? svg.dataset.chart ?? '',
          x: r.x + window.scrollX, y: r.y + window.scrollY, w: r.width, h: r.height,
          lineLength: line ? line.getTotalLength() : 0, lineWidth: line ? line.getBBox().width : 0,
          bars: bars.length, barArea: bars.reduce((a, b) => a + b.width * b.height, 0),
        };
      }));
      const status = await page.locator('[data-status]').first().textContent();
      const png = await page.screenshot({ fullPage: true });
      const shot = join(dir, 'report.png');
      writeFileSync(shot, png);
      t.diagnostic(`screenshot: ${shot}`);

      assert.deepEqual(requests, [], 'the page asks the network for nothing');
      assert.deepEqual(errors, []);
      assert.equal(status, 'FAIL');
      const percentile = plots.filter((p) => p.kind === 'percentile');
      assert.deepEqual(percentile.map((p) => p.name).sort(), [...latency].sort(), 'one rendered plot per latency histogram');
      const img = decodePng(png);
      const blue = [1, 3, 5].map((i) => parseInt(PALETTE[0].slice(i, i + 2), 16)) as [number, number, number];
      for (const p of percentile) {
        assert.ok(p.w > 100 && p.h > 100, `${p.name}: laid out ${p.w}x${p.h}`);
        assert.ok(p.lineLength > 50 && p.lineWidth > 50, `${p.name}: curve drawn (length ${p.lineLength}, width ${p.lineWidth})`);
        // the 2-pixel stroke, antialiased, leaves 1.3 to 2 pixels of its colour per unit of length
        // (seen here); the three markers (p50, p99, max) alone leave under 120
        const px = countColour(img, p, blue);
        assert.ok(px >= Math.max(150, 0.8 * p.lineLength), `${p.name}: ${px} pixels of the curve's colour on the screenshot for a curve of length ${Math.round(p.lineLength)}`);
      }
      for (const name of ['folio-orders', 'tlb-invalidations', 'anon-scan-order', 'anon-fallback-outcomes', 'ops']) {
        const c = plots.find((p) => p.name === name);
        assert.ok(c && c.w > 100 && c.h > 50, `${name}: laid out`);
        assert.ok(c.bars > 0 && c.barArea > 100, `${name}: ${c.bars} bars, area ${c.barArea}`);
        assert.ok(countColour(img, c, blue) >= 50, `${name}: bars on the screenshot`);
      }
      // the page is not blank: most of it is white, but far from all
      let ink = 0;
      for (let i = 0; i < img.rgba.length; i += 4) if (img.rgba[i] + img.rgba[i + 1] + img.rgba[i + 2] < 600) ink++;
      assert.ok(ink / (img.width * img.height) > 0.01, `ink ${ink} of ${img.width * img.height} pixels`);
    } finally {
      await browser.close();
    }
  });
}
