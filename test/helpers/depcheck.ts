// Dependency check over src/: builds the file-level import graph with the TypeScript parser and
// reports import cycles and edges that break the layering in DESIGN.md. Pure functions over a
// graph, so test/deps.test.ts can also prove the checker catches a planted cycle and a planted edge.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

/**
 * Allowed import targets per source module (a module may always import itself).
 * Layers, lowest first: shared ← store, cluster ← kernel ← init, cron, discovery ← pkg ← api ←
 * daemon ← cli/main. Frameworks see the kernel only through `kernel/sdk` and `kernel/types`;
 * the master and agent halves meet only through `kernel/agent-link` and `kernel/types`.
 */
export const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  shared: [],
  store: ['shared'],
  cluster: ['shared'],
  'kernel/types': ['shared', 'store', 'cluster'],
  'kernel/agent-link': ['shared', 'store', 'cluster', 'kernel/types'],
  'kernel/sdk': ['shared', 'store', 'cluster', 'kernel/types', 'kernel/master'],
  'kernel/master': ['shared', 'store', 'cluster', 'kernel/types', 'kernel/agent-link', 'kernel/sdk'],
  'kernel/agent': ['shared', 'store', 'cluster', 'kernel/types', 'kernel/agent-link'],
  kernel: ['shared', 'store', 'cluster', 'kernel/types', 'kernel/agent-link', 'kernel/sdk', 'kernel/master', 'kernel/agent'],
  init: ['shared', 'store', 'cluster', 'kernel/sdk', 'kernel/types'],
  cron: ['shared', 'store', 'cluster', 'kernel/sdk', 'kernel/types'],
  discovery: ['shared', 'store', 'cluster', 'kernel/sdk', 'kernel/types'],
  // DESIGN.md's layout lists pkg as a user of the typed client.
  pkg: ['shared', 'store', 'cluster', 'kernel/sdk', 'kernel/types', 'init', 'cron', 'discovery', 'client'],
  api: ['shared', 'store', 'cluster', 'kernel/types', 'kernel/agent-link', 'kernel/sdk', 'kernel/master', 'kernel/agent', 'kernel', 'init', 'cron', 'discovery', 'pkg', 'ui'],
  daemon: ['shared', 'store', 'cluster', 'kernel/types', 'kernel/agent-link', 'kernel/sdk', 'kernel/master', 'kernel/agent', 'kernel', 'init', 'cron', 'discovery', 'pkg', 'ui', 'api'],
  client: ['shared'],
  cli: ['shared', 'client', 'daemon'],
  main: ['shared', 'cli', 'daemon'],
  ui: [],
};

export type ImportKind = 'import' | 'import type' | 'export from' | 'import()' | 'require()' | 'import = require()' | 'type import()';

export interface ImportRef {
  specifier: string;
  kind: ImportKind;
  /** 1-based line of the import in its file. */
  line: number;
}

export interface Edge {
  /** Repo-relative, '/'-separated, e.g. `src/cli/up.ts`. */
  from: string;
  to: string;
  kind: ImportKind;
  line: number;
}

export interface Violation {
  from: string;
  to: string;
  rule: string;
}

/** Every module specifier a TypeScript source mentions, including type-only and dynamic forms. */
export function importsOf(fileName: string, source: string): ImportRef[] {
  const sf = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const refs: ImportRef[] = [];
  const add = (lit: ts.Node, kind: ImportKind): void => {
    if (ts.isStringLiteralLike(lit)) {
      refs.push({ specifier: lit.text, kind, line: sf.getLineAndCharacterOfPosition(lit.getStart(sf)).line + 1 });
    }
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      add(node.moduleSpecifier, node.importClause?.isTypeOnly ? 'import type' : 'import');
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
      add(node.moduleSpecifier, 'export from');
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, 'import = require()');
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal, 'type import()');
    } else if (ts.isCallExpression(node) && node.arguments.length >= 1) {
      const arg = node.arguments[0]!;
      if (node.expression.kind === ts.SyntaxKind.ImportKeyword) add(arg, 'import()');
      else if (ts.isIdentifier(node.expression) && node.expression.text === 'require') add(arg, 'require()');
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return refs;
}

/** The module a src file belongs to (a key of ALLOWED), or undefined when it is outside the layout. */
export function moduleOf(file: string): string | undefined {
  const parts = file.split('/');
  if (parts[0] !== 'src' || parts.length < 2) return undefined;
  if (parts.length === 2) return parts[1] === 'main.ts' ? 'main' : undefined;
  const top = parts[1]!;
  if (top === 'kernel') {
    if (parts.length === 3) {
      const base = parts[2]!.replace(/\.ts$/, '');
      return base === 'types' || base === 'agent-link' ? `kernel/${base}` : 'kernel';
    }
    const sub = `kernel/${parts[2]}`;
    return sub in ALLOWED ? sub : 'kernel';
  }
  return top in ALLOWED ? top : undefined;
}

/** Module-level rule for one edge, or undefined when the edge is allowed. */
export function ruleBroken(from: string, to: string): string | undefined {
  if (!to.startsWith('src/')) return `src must not import files outside src (${to})`;
  const fm = moduleOf(from);
  const tm = moduleOf(to);
  if (fm === undefined) return `${from} is outside the layout in DESIGN.md: add its module to ALLOWED`;
  if (tm === undefined) return `${to} is outside the layout in DESIGN.md: add its module to ALLOWED`;
  if (fm === tm) return undefined;
  const allowed = ALLOWED[fm] ?? [];
  if (allowed.includes(tm)) return undefined;
  return allowed.length === 0 ? `${fm} imports nothing from src outside itself` : `${fm} may import only ${allowed.join(', ')}; not ${tm}`;
}

/** All forbidden edges, one per (from, to) pair. */
export function forbiddenEdges(edges: readonly Edge[]): Violation[] {
  const seen = new Set<string>();
  const out: Violation[] = [];
  for (const e of edges) {
    const key = `${e.from}\0${e.to}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const rule = ruleBroken(e.from, e.to);
    if (rule !== undefined) out.push({ from: e.from, to: e.to, rule });
  }
  return out;
}

/**
 * One cycle per strongly connected component that has one (Tarjan), each as a path that starts and
 * ends at the same file, e.g. [a, b, c, a]. Components are found iteratively so depth is unbounded.
 */
export function findCycles(edges: readonly Edge[]): string[][] {
  const adj = new Map<string, string[]>();
  for (const e of edges) {
    if (!adj.has(e.from)) adj.set(e.from, []);
    if (!adj.has(e.to)) adj.set(e.to, []);
    const list = adj.get(e.from)!;
    if (!list.includes(e.to)) list.push(e.to);
  }
  for (const list of adj.values()) list.sort();
  const nodes = [...adj.keys()].sort();

  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let next = 0;
  for (const root of nodes) {
    if (index.has(root)) continue;
    const work: Array<{ node: string; i: number }> = [{ node: root, i: 0 }];
    index.set(root, next);
    low.set(root, next++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const succ = adj.get(frame.node)!;
      if (frame.i < succ.length) {
        const w = succ[frame.i++]!;
        if (!index.has(w)) {
          index.set(w, next);
          low.set(w, next++);
          stack.push(w);
          onStack.add(w);
          work.push({ node: w, i: 0 });
        } else if (onStack.has(w)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(w)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) === index.get(frame.node)) {
        const comp: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          comp.push(w);
        } while (w !== frame.node);
        const selfLoop = comp.length === 1 && adj.get(w)!.includes(w);
        if (comp.length > 1 || selfLoop) components.push(comp);
      }
    }
  }
  return components.map((comp) => shortestCycle(comp, adj)).sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/** Shortest cycle through the component's first file (by name), by breadth-first search inside it. */
function shortestCycle(comp: string[], adj: Map<string, string[]>): string[] {
  const inComp = new Set(comp);
  const start = [...comp].sort()[0]!;
  const prev = new Map<string, string>();
  const queue = [start];
  for (let q = 0; q < queue.length; q++) {
    const v = queue[q]!;
    for (const w of adj.get(v)!) {
      if (!inComp.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let u: string | undefined = v; u !== undefined && u !== start; u = prev.get(u)) path.push(u);
        return [start, ...path.slice(1).reverse(), start];
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start]; // unreachable for a real component; kept total for the type checker
}

const TS_FILE = /\.(ts|mts|cts|tsx)$/;

function walk(dir: string, out: string[]): void {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (TS_FILE.test(name)) out.push(p);
  }
}

/** The file a relative specifier names, trying TypeScript's extension rules; undefined if none exists. */
export function resolveRelative(fromAbs: string, specifier: string): string | undefined {
  const base = resolve(dirname(fromAbs), specifier);
  const jsToTs = base.replace(/\.js$/, '.ts').replace(/\.mjs$/, '.mts').replace(/\.cjs$/, '.cts').replace(/\.jsx$/, '.tsx');
  const candidates = [jsToTs, base, `${base}.ts`, `${base}.tsx`, `${base}.d.ts`, `${base}.mts`, `${base}.cts`, join(base, 'index.ts'), join(base, 'index.tsx')];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile());
}

export interface SrcGraph {
  files: string[];
  edges: Edge[];
  /** Relative imports that name no file; they would hide an edge, so they fail the check too. */
  unresolved: Array<{ from: string; specifier: string; line: number }>;
}

/** Reads every TypeScript file under `<root>/src` and returns its relative-import graph. */
export function buildSrcGraph(root: string): SrcGraph {
  const abs: string[] = [];
  const srcDir = join(root, 'src');
  if (existsSync(srcDir)) walk(srcDir, abs);
  const rel = (p: string): string => relative(root, p).split(sep).join('/');
  const edges: Edge[] = [];
  const unresolved: SrcGraph['unresolved'] = [];
  for (const file of abs) {
    for (const ref of importsOf(file, readFileSync(file, 'utf8'))) {
      if (!ref.specifier.startsWith('./') && !ref.specifier.startsWith('../') && ref.specifier !== '.' && ref.specifier !== '..') continue;
      const target = resolveRelative(file, ref.specifier);
      if (target === undefined) {
        unresolved.push({ from: rel(file), specifier: ref.specifier, line: ref.line });
      } else if (TS_FILE.test(target) || target.startsWith(srcDir + sep)) {
        // Data files outside src (package.json for the version) are not module edges.
        edges.push({ from: rel(file), to: rel(target), kind: ref.kind, line: ref.line });
      }
    }
  }
  return { files: abs.map(rel), edges, unresolved };
}

/** Lines in the report format `src/a.ts -> src/b.ts (rule)`. */
export function formatViolations(violations: readonly Violation[]): string[] {
  return violations.map((v) => `${v.from} -> ${v.to} (${v.rule})`);
}

export function formatCycle(cycle: readonly string[]): string {
  return `${cycle.join(' -> ')} (import cycle)`;
}
