// The documentation's links: every relative link and image in README.md and docs/*.md points at a
// file that exists, and every #fragment into a Markdown file names a heading it has (GitHub's slug).
// README.md stays a README: at most 200 lines, the reference material lives in docs/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const README_MAX_LINES = 200;

/** The repository root: the nearest folder above this file holding both package.json and README.md. */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'README.md'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`no folder with package.json and README.md above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

const ROOT = findRoot();
const MD_FILES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];

/** The text outside fenced code blocks, as lines (fenced lines become empty, so line numbers hold). */
function proseLines(text: string): string[] {
  let fence: string | null = null;
  return text.split('\n').map((line) => {
    const m = /^\s{0,3}(`{3,}|~{3,})/.exec(line);
    if (fence === null && m) {
      fence = m[1];
      return '';
    }
    if (fence !== null) {
      if (m && m[1][0] === fence[0] && m[1].length >= fence.length && line.trim() === m[1]) fence = null;
      return '';
    }
    return line;
  });
}

/** Inline code spans removed (a link written inside backticks is not a link). */
function withoutCodeSpans(text: string): string {
  return text.replace(/(`+)[\s\S]*?\1/g, (s) => s.replace(/[^\n]/g, ' '));
}

/** GitHub's anchor for a heading: lowercase, punctuation dropped except - and _, spaces to -. */
function slug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // a link in a heading keeps its text
    .replace(/<[^>]+>/g, '') // inline HTML
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '').replace(/\s/g, '-');
}

/** The anchors a Markdown file offers: its headings' slugs (repeats get -1, -2, ...) and HTML ids. */
function anchors(text: string): Set<string> {
  const out = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLines(text)) {
    const h = /^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line);
    if (h) {
      const base = slug(h[1]);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      out.add(n === 0 ? base : `${base}-${n}`);
    }
    for (const m of line.matchAll(/<a\s[^>]*(?:name|id)=["']([^"']+)["']/gi)) out.add(m[1]);
  }
  return out;
}

interface Link {
  line: number;
  target: string;
}

/** Every link target of a Markdown text: inline links and images, reference definitions, <img src> and <a href>. */
function links(text: string): Link[] {
  const out: Link[] = [];
  const prose = withoutCodeSpans(proseLines(text).join('\n')).split('\n');
  prose.forEach((line, i) => {
    const at = (target: string): void => {
      out.push({ line: i + 1, target: target.trim() });
    };
    for (const m of line.matchAll(/\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+["'(][^)]*)?\)/g)) at(m[1].replace(/^<|>$/g, ''));
    const def = /^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)/.exec(line);
    if (def) at(def[1].replace(/^<|>$/g, ''));
    for (const m of line.matchAll(/<(?:img|source)\s[^>]*\bsrc=["']([^"']+)["']/gi)) at(m[1]);
    for (const m of line.matchAll(/<a\s[^>]*\bhref=["']([^"']+)["']/gi)) at(m[1]);
  });
  return out;
}

/** What is wrong with one link of file (a path relative to ROOT), or null when it resolves. */
function problem(file: string, text: string, link: Link): string | null {
  const { target } = link;
  if (/^(https?:|mailto:)/i.test(target)) return null;
  const hash = target.indexOf('#');
  const path = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
  const fragment = hash < 0 ? '' : decodeURIComponent(target.slice(hash + 1));
  let targetFile = file;
  let targetText = text;
  if (path !== '') {
    if (path.startsWith('/')) return `an absolute path, which does not resolve from a checkout`;
    const abs = resolve(ROOT, dirname(file), path);
    if (!existsSync(abs)) return `${relative(ROOT, abs)} does not exist`;
    targetFile = relative(ROOT, abs);
    if (fragment === '' || !abs.endsWith('.md')) return null;
    targetText = readFileSync(abs, 'utf8');
  }
  if (fragment === '') return null;
  if (!anchors(targetText).has(fragment)) return `${targetFile} has no heading with the anchor #${fragment}`;
  return null;
}

for (const file of MD_FILES) {
  test(`links in ${file} resolve`, () => {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const found = links(text);
    const broken = found.flatMap((l) => {
      const p = problem(file, text, l);
      return p === null ? [] : [`${file}:${l.line}: link (${l.target}): ${p}`];
    });
    assert.deepEqual(broken, [], `broken links in ${file}:\n${broken.join('\n')}`);
  });
}

test(`README.md has at most ${README_MAX_LINES} lines`, () => {
  const text = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const lines = text.endsWith('\n') ? text.slice(0, -1).split('\n').length : text.split('\n').length;
  assert.ok(lines <= README_MAX_LINES, `README.md has ${lines} lines, more than ${README_MAX_LINES}: move reference material to docs/`);
});

test('the slug of a heading is GitHub\'s anchor', () => {
  assert.equal(slug('Hangs and crashes (of the tool)'), 'hangs-and-crashes-of-the-tool');
  assert.equal(slug('Benchmarks (`npm run bench`)'), 'benchmarks-npm-run-bench');
  assert.equal(slug('Sharding, merging and comparing runs'), 'sharding-merging-and-comparing-runs');
  assert.equal(slug('report.html'), 'reporthtml');
  assert.equal(slug('Layout: three layers'), 'layout-three-layers');
});
