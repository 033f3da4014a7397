// Figure 4 of the bench: memory per modelled page. The SharedArrayBuffer's bytes come from the
// layout; peak resident memory is measured in a child process per size (so peaks do not mix), over
// a child that builds nothing. Growth is linear when bytes per page stay constant: a least-squares
// line through (pages, bytes) gives the marginal bytes per page and how well a line fits (R^2).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { defaultConfig } from '../src/config/config.js';
import { computeLayout } from '../src/machine/layout.js';

export const MEMORY_SIZES = [1 << 16, 1 << 18, 1 << 20] as const;

export interface MemoryRow {
  pages: number;
  sabBytes: number;
  sabBytesPerPage: number;
  maxRssBytes: number;
  /** Peak RSS over the child that built nothing. */
  rssOverBaseBytes: number;
  rssBytesPerPage: number;
}

export interface LineFit {
  /** Bytes per page (slope), fixed bytes (intercept), and R^2 of the fit. */
  slope: number;
  intercept: number;
  r2: number;
}

export interface MemoryFigure {
  baseMaxRssBytes: number;
  rows: MemoryRow[];
  sabFit: LineFit;
  rssFit: LineFit;
}

/** Least-squares line y = slope * x + intercept, and its R^2. */
export function fitLine(xs: readonly number[], ys: readonly number[]): LineFit {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n, my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
    syy += (ys[i] - my) ** 2;
  }
  const slope = sxx ? sxy / sxx : 0;
  const intercept = my - slope * mx;
  let sse = 0;
  for (let i = 0; i < n; i++) sse += (ys[i] - (slope * xs[i] + intercept)) ** 2;
  return { slope, intercept, r2: syy ? 1 - sse / syy : 1 };
}

function child(pages: number): { sabBytes: number; maxRssBytes: number } {
  const out = execFileSync(process.execPath, [fileURLToPath(new URL('./memory-child.js', import.meta.url)), String(pages)], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!);
}

export function measureMemory(sizes: readonly number[] = MEMORY_SIZES): MemoryFigure {
  const base = child(0).maxRssBytes;
  const rows: MemoryRow[] = sizes.map((pages) => {
    const c = child(pages);
    const layoutBytes = computeLayout(defaultConfig({ memoryPages: pages, cpus: 2 })).words * 4;
    if (layoutBytes !== c.sabBytes) throw new Error(`bench: the child's buffer (${c.sabBytes}) is not the layout's (${layoutBytes})`);
    const over = c.maxRssBytes - base;
    return { pages, sabBytes: c.sabBytes, sabBytesPerPage: c.sabBytes / pages, maxRssBytes: c.maxRssBytes, rssOverBaseBytes: over, rssBytesPerPage: over / pages };
  });
  return {
    baseMaxRssBytes: base, rows,
    sabFit: fitLine(rows.map((r) => r.pages), rows.map((r) => r.sabBytes)),
    rssFit: fitLine(rows.map((r) => r.pages), rows.map((r) => r.maxRssBytes)),
  };
}
