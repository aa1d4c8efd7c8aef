/**
 * The import rules of the tree, as a pure checker over a map of file path -> source text, so a
 * test can run it on the real tree and on a tree with a forbidden import added. The rules are
 * the layers of docs/architecture.md: imports point down, never up or sideways.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';

/** Top-level folder -> the folders it may import from (besides itself). */
export const LAYERS: Readonly<Record<string, readonly string[]>> = {
  shared: [],
  yellow: ['shared'],
  rpc: ['shared', 'yellow'],
  edge: ['shared', 'yellow'],
  console: ['shared', 'yellow'],
  broker: ['shared', 'yellow', 'rpc', 'edge'],
  services: ['shared', 'rpc'],
  client: ['shared'],
  roles: ['shared', 'yellow', 'rpc', 'edge', 'broker', 'console'],
  loadtest: ['shared', 'yellow', 'client'],
  cli: ['shared', 'yellow', 'rpc', 'edge', 'console', 'broker', 'services', 'client', 'roles', 'loadtest'],
  testing: ['shared', 'rpc', 'services', 'client', 'roles', 'cli'],
  chaos: ['shared', 'yellow', 'client', 'loadtest'],
};

/** Libraries that open sockets: only the RPC layer, Yellow, the edge and the broker use them. */
const SOCKET_LIBRARIES = new Set([
  'zeromq',
  'ws',
  'net',
  'node:net',
  'http',
  'node:http',
  'https',
  'node:https',
  'tls',
  'node:tls',
  'node:dgram',
  'dgram',
  'thrift',
]);
const SOCKET_USERS = new Set([
  'rpc',
  'yellow',
  'edge',
  'console',
  'broker',
  'client',
  'cli',
  'loadtest',
  'shared',
  'chaos',
]);

export interface Violation {
  file: string;
  imports: string;
  rule: string;
}

/**
 * Every way a module names another: `import … from`, `export … from`, a bare side-effect
 * `import 'x'`, `require('x')` and `import('x')`, with either quote (a rule that only saw one
 * spelling could be stepped round by writing the other).
 */
const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+(['"])([^'"]+)\1|(?:^|\n)\s*import\s+(['"])([^'"]+)\3|require\((['"])([^'"]+)\5\)|import\((['"])([^'"]+)\7\)/g;

export function importsOf(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(IMPORT)) out.push((m[2] ?? m[4] ?? m[6] ?? m[8]) as string);
  return out;
}

/** Resolves a relative import of `file` to a path in `files` (with .ts or /index.ts), if any. */
function resolve(file: string, spec: string, files: ReadonlyMap<string, string>): string | undefined {
  const base = normalize(join(dirname(file), spec));
  return [`${base}.ts`, join(base, 'index.ts'), base].find((p) => files.has(p));
}

const top = (path: string): string => path.split('/')[0] ?? '';

/** A built-in game service folder (services/<name>/...), which may use only the service API. */
const isGameService = (file: string): boolean => file.startsWith('services/') && file.split('/').length > 2;

export function checkArchitecture(files: ReadonlyMap<string, string>): Violation[] {
  const violations: Violation[] = [];
  const graph = new Map<string, string[]>();
  for (const [file, source] of files) {
    const layer = top(file);
    const allowed = LAYERS[layer];
    const edges: string[] = [];
    for (const spec of importsOf(source)) {
      if (!spec.startsWith('.')) {
        if (SOCKET_LIBRARIES.has(spec) && !SOCKET_USERS.has(layer))
          violations.push({ file, imports: spec, rule: `${layer}/ opens no sockets` });
        continue;
      }
      const target = resolve(file, spec, files);
      if (!target) continue;
      edges.push(target);
      const to = top(target);
      if (allowed && to !== layer && !allowed.includes(to))
        violations.push({ file, imports: target, rule: `${layer}/ may import only ${[layer, ...allowed].join(', ')}` });
      if (isGameService(file) && to === 'rpc' && target !== 'rpc/api.ts')
        violations.push({
          file,
          imports: target,
          rule: 'game services use only the service API (rpc/api.ts) of the RPC layer',
        });
    }
    graph.set(file, edges);
  }
  for (const cycle of cycles(graph))
    violations.push({ file: cycle[0] as string, imports: cycle.join(' -> '), rule: 'no import cycles' });
  return violations;
}

/** Every import cycle, once each (depth-first search, white/grey/black). */
export function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (n: string): void => {
    state.set(n, 'open');
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === 'open') found.push([...stack.slice(stack.indexOf(m)), m]);
      else if (!state.has(m)) visit(m);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of [...graph.keys()].sort()) if (!state.has(n)) visit(n);
  return found;
}

/** The repository's TypeScript sources, by path relative to `root` (generated code left out). */
export function sourceTree(root: string, dirs: readonly string[] = Object.keys(LAYERS)): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(root, rel))) {
      if (name === 'gen' || name === 'node_modules') continue;
      const p = `${rel}/${name}`;
      if (statSync(join(root, p)).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) files.set(p, readFileSync(join(root, p), 'utf8'));
    }
  };
  for (const d of dirs) walk(d);
  return files;
}
