// Builds the threads build: a copy of the compiled kernel paths (dist/threads/) with the generator
// plumbing stripped, which threads CPUs run under the config's threadsCode "stripped". A kernel path
// is a generator so that the sched engine can choose which CPU runs at each yield; a threads CPU
// drives its generator to completion (drive()) and never looks at what it yields, so there the
// generator objects and their round trips are pure cost (1.5x to 2.7x a path's time, npm run bench).
// The copy is the same code with `function*` made `function`, `yield* g` made `g`, `yield p` made
// `interleave(p)` (gen.ts: a pause of interleaveSpins, none by default) and `drive(g)` made `g`: a
// call runs the path at once and returns its value, in the order the generators ran it. Only files
// reachable from ENTRIES by relative imports are copied (the sched engine and the scenarios, which
// do look at yields, never are), and the build fails if a generator's call is used any other way
// (kept to run later, which a plain call would run at once). dist/threads/manifest.json records each
// source file's size and time, so a stale copy is never run (src/engine/threads-code.ts). Each copy
// has a source map back to src/*.ts (the printer's map composed with tsc's, src/build/sourcemap.ts),
// so stack traces and coverage (npm run coverage) of the threads engine name the TypeScript lines.
// Usage (npm run build, npm test): node dist/src/build/strip-generators.js [DIST]
import ts from 'typescript';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { composeMaps, prependLines, type RawSourceMap } from './sourcemap.js';

/** The folder of the stripped copy inside dist, and its manifest. */
export const THREADS_DIR = 'threads';
export const MANIFEST = 'manifest.json';

/** What runs kernel paths on threaded CPUs: the threads engine's CPU task and the bench's kernel-path rig. */
export const ENTRIES = ['workers/cpu-task.js', 'bench/paths.js', 'bench/atomics-count-worker.js', 'bench/profile-path.js'] as const;

export interface Manifest {
  /** Per source file (path relative to dist, '/'-separated): its size and modification time when copied. */
  files: Record<string, { size: number; mtimeMs: number }>;
}

/** Relative module specifiers a compiled file imports (static, dynamic, and worker URLs). */
function relativeImports(code: string): string[] {
  const out: string[] = [];
  for (const m of code.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+\.js)'/g)) out.push(m[1]);
  for (const m of code.matchAll(/new URL\('(\.{1,2}\/[^']+\.js)', import\.meta\.url\)/g)) out.push(m[1]);
  return out;
}

/** The files reachable from the entries (absolute paths), and the names of the generator functions they declare. */
export function closure(dist: string, entries: readonly string[]): { files: string[]; generators: Set<string> } {
  const seen = new Set<string>();
  const generators = new Set<string>();
  const queue = entries.map((e) => resolve(dist, e));
  while (queue.length) {
    const f = queue.pop()!;
    if (seen.has(f) || !existsSync(f)) continue;
    seen.add(f);
    const code = readFileSync(f, 'utf8');
    for (const r of relativeImports(code)) {
      const dep = resolve(dirname(f), r);
      if (dep.startsWith(dist + sep)) queue.push(dep);
    }
    const sf = ts.createSourceFile(f, code, ts.ScriptTarget.ES2022, true, ts.ScriptKind.JS);
    const visit = (n: ts.Node): void => {
      if (ts.isFunctionDeclaration(n) && n.asteriskToken && n.name) generators.add(n.name.text);
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return { files: [...seen].sort(), generators };
}

/** Is this call's value consumed at once: by yield*, return, an arrow's body, or drive()? */
function consumedAtOnce(call: ts.CallExpression): boolean {
  let p: ts.Node = call.parent;
  while (ts.isParenthesizedExpression(p)) p = p.parent;
  if (ts.isYieldExpression(p)) return !!p.asteriskToken;
  if (ts.isReturnStatement(p) || ts.isArrowFunction(p)) return true;
  return ts.isCallExpression(p) && ts.isIdentifier(p.expression) && p.expression.text === 'drive';
}

/** The callee's name if it is a plain or member call (f(...), ns.f(...)). */
function calleeName(call: ts.CallExpression): string | null {
  const e = call.expression;
  if (ts.isIdentifier(e)) return e.text;
  if (ts.isPropertyAccessExpression(e)) return e.name.text;
  return null;
}

/**
 * Strip one compiled file; problems lists each generator call whose value is not consumed at once.
 * map: the stripped code's source map back to the compiled file (its one source), positions in
 * the code as returned (with its head lines); the code ends without a sourceMappingURL comment.
 */
export function stripFile(code: string, file: string, generators: ReadonlySet<string>, genModule = './gen.js'): { code: string; problems: string[]; map: RawSourceMap } {
  const problems: string[] = [];
  let yields = 0;
  let sf!: ts.SourceFile; // the parsed file, set when the transform starts
  const transformer: ts.TransformerFactory<ts.SourceFile> = (ctx) => {
    const f = ctx.factory;
    const visit = (node: ts.Node): ts.Node => {
      if (ts.isCallExpression(node)) {
        const name = calleeName(node);
        if (name === 'drive' && ts.isIdentifier(node.expression) && node.arguments.length === 1) {
          return f.createParenthesizedExpression(ts.visitNode(node.arguments[0], visit) as ts.Expression);
        }
        if (name && generators.has(name) && !consumedAtOnce(node)) {
          const { line } = sf.getLineAndCharacterOfPosition(node.getStart(sf));
          problems.push(`${file}:${line + 1}: ${node.getText(sf).slice(0, 80)}: a generator's value not consumed at once (yield*, return, drive)`);
        }
      }
      if (ts.isFunctionDeclaration(node) && node.asteriskToken) {
        const n = ts.visitEachChild(node, visit, ctx);
        return f.updateFunctionDeclaration(n, n.modifiers, undefined, n.name, n.typeParameters, n.parameters, n.type, n.body);
      }
      if (ts.isFunctionExpression(node) && node.asteriskToken) {
        const n = ts.visitEachChild(node, visit, ctx);
        return f.updateFunctionExpression(n, n.modifiers, undefined, n.name, n.typeParameters, n.parameters, n.type, n.body);
      }
      if (ts.isMethodDeclaration(node) && node.asteriskToken) {
        const n = ts.visitEachChild(node, visit, ctx);
        return f.updateMethodDeclaration(n, n.modifiers, undefined, n.name, n.questionToken, n.typeParameters, n.parameters, n.type, n.body);
      }
      if (ts.isYieldExpression(node)) {
        const e = node.expression ? (ts.visitNode(node.expression, visit) as ts.Expression) : f.createNumericLiteral(0);
        if (node.asteriskToken) return f.createParenthesizedExpression(e);
        yields++;
        return f.createCallExpression(f.createIdentifier('__interleave'), undefined, [e]);
      }
      // gen.ts: the flag that says kernel paths are generators
      if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.name.text === 'GENERATORS' && node.initializer) {
        return f.updateVariableDeclaration(node, node.name, node.exclamationToken, node.type, f.createFalse());
      }
      return ts.visitEachChild(node, visit, ctx);
    };
    return (s) => {
      sf = s;
      return ts.visitNode(s, visit) as ts.SourceFile;
    };
  };
  // transpileModule prints what ts.transform + the printer print (the same emitter, and nothing to
  // compile away in ES2022 JavaScript), and gives the printed code's source map with it
  const out = ts.transpileModule(code, {
    fileName: file,
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, allowJs: true, sourceMap: true, removeComments: false, outDir: 'stripped' },
    transformers: { before: [transformer] },
  });
  if (out.sourceMapText === undefined) throw new Error(`strip-generators: no source map for ${file}`);
  const head = `// generated by src/build/strip-generators.ts from ${file}: do not edit\n` + (yields ? `import { interleave as __interleave } from '${genModule}';\n` : '');
  // the compiled file's own sourceMappingURL comment, and the one transpileModule adds: the caller writes its own
  const text = out.outputText.replace(/^\/\/# sourceMappingURL=.*(\r?\n|$)/gm, '');
  const map = prependLines(JSON.parse(out.sourceMapText) as RawSourceMap, head.split('\n').length - 1);
  return { code: head + text, problems, map: { ...map, sources: [basename(file)] } };
}

/**
 * The stripped copy's map back to the compiled file's own sources (src/*.ts), its sources relative
 * to the copy's folder; null when the compiled file has no map next to it (the copy then has none).
 */
function threadsMap(compiled: string, copy: string, stripped: RawSourceMap): RawSourceMap | null {
  const mapFile = `${compiled}.map`;
  if (!existsSync(mapFile)) return null;
  const tsc = JSON.parse(readFileSync(mapFile, 'utf8')) as RawSourceMap;
  const root = resolve(dirname(compiled), tsc.sourceRoot ?? '');
  const sources = tsc.sources.map((s) => relative(dirname(copy), resolve(root, s)).split(sep).join('/'));
  return { ...composeMaps(stripped, { ...tsc, sourceRoot: '', sources }), file: basename(copy) };
}

/** Build dist/threads from the entries; throws listing every problem (nothing is written then). */
export function buildThreadsCode(dist: string, entries: readonly string[] = ENTRIES): { files: number; dir: string } {
  dist = resolve(dist);
  const missing = entries.filter((e) => !existsSync(join(dist, e)));
  if (missing.length) throw new Error(`strip-generators: no ${missing.join(', ')} in ${dist} (run tsc first)`);
  const { files, generators } = closure(dist, entries);
  const outputs: { file: string; code: string; map: RawSourceMap | null }[] = [];
  const problems: string[] = [];
  const manifest: Manifest = { files: {} };
  for (const f of files) {
    const rel = relative(dist, f).split(sep).join('/');
    let gen = relative(dirname(f), join(dist, 'src', 'machine', 'gen.js')).split(sep).join('/');
    if (!gen.startsWith('.')) gen = `./${gen}`;
    const r = stripFile(readFileSync(f, 'utf8'), rel, generators, gen);
    problems.push(...r.problems);
    const file = join(dist, THREADS_DIR, rel);
    outputs.push({ file, code: r.code, map: threadsMap(f, file, r.map) });
    const st = statSync(f);
    manifest.files[rel] = { size: st.size, mtimeMs: st.mtimeMs };
  }
  if (problems.length) throw new Error(`strip-generators: ${problems.length} problem(s):\n${problems.join('\n')}`);
  const dir = join(dist, THREADS_DIR);
  rmSync(dir, { recursive: true, force: true });
  for (const o of outputs) {
    mkdirSync(dirname(o.file), { recursive: true });
    if (o.map) {
      writeFileSync(`${o.file}.map`, JSON.stringify(o.map));
      writeFileSync(o.file, `${o.code.replace(/\n?$/, '\n')}//# sourceMappingURL=${basename(o.file)}.map\n`);
    } else writeFileSync(o.file, o.code);
  }
  writeFileSync(join(dir, MANIFEST), JSON.stringify(manifest, null, 1) + '\n');
  return { files: outputs.length, dir };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const dist = process.argv[2] ?? fileURLToPath(new URL('../../', import.meta.url));
  try {
    const r = buildThreadsCode(dist);
    process.stdout.write(`strip-generators: ${r.files} files -> ${relative(process.cwd(), r.dir) || r.dir}\n`);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(1);
  }
}
