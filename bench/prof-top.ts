/**
 * Summarises V8 .cpuprofile files (from `node --cpu-prof`, or BENCH_CPU_PROF=<dir> for the bench
 * children): self time by function and by file, top N, per profile.
 *
 *   node --import tsx bench/prof-top.ts <file-or-dir>... [--top 25]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function files(paths: string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    if (statSync(p).isDirectory()) out.push(...files(readdirSync(p).map((f) => join(p, f))));
    else if (p.endsWith('.cpuprofile')) out.push(p);
  }
  return out;
}

function shortUrl(url: string): string {
  const cwd = `file://${process.cwd()}/`;
  if (url.startsWith(cwd)) return url.slice(cwd.length);
  if (url.startsWith('file://')) return relative(process.cwd(), url.slice(7));
  return url || '(native)';
}

function summarise(path: string, top: number): string {
  const p = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i] as number;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  const byFn = new Map<string, number>();
  const byFile = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const cf = (byId.get(id) as ProfileNode).callFrame;
    if (cf.functionName === '(idle)') {
      idle += us;
      continue;
    }
    total += us;
    const file = shortUrl(cf.url).replace(/^node_modules\/([^/]+)\/.*$/, 'node_modules/$1');
    const key = `${cf.functionName || '(anonymous)'}  ${shortUrl(cf.url)}:${cf.lineNumber + 1}`;
    byFn.set(key, (byFn.get(key) ?? 0) + us);
    byFile.set(file, (byFile.get(file) ?? 0) + us);
  }
  const pct = (us: number): string => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
  const list = (m: Map<string, number>, n: number): string[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, us]) => `  ${pct(us)}  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`);
  const callers = callerLines(p, selfUs, total);
  return [
    `## ${path}: busy ${(total / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms`,
    'self time by function:',
    ...list(byFn, top),
    'self time by file:',
    ...list(byFile, Math.ceil(top / 2)),
    ...callers,
  ].join('\n');
}

/** With --callers <substring>: self time of matching functions split by the chain of their 3 nearest callers. */
function callerLines(p: Profile, selfUs: Map<number, number>, total: number): string[] {
  if (!callersOf) return [];
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const chains = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id) as ProfileNode;
    if (!n.callFrame.functionName.includes(callersOf)) continue;
    const chain: string[] = [];
    for (let at = parent.get(id); at !== undefined && chain.length < 4; at = parent.get(at)) {
      const cf = (byId.get(at) as ProfileNode).callFrame;
      chain.push(`${cf.functionName || '(anon)'}@${shortUrl(cf.url).split('/').pop() ?? ''}`);
    }
    const key = `${n.callFrame.functionName} <- ${chain.join(' <- ')}`;
    chains.set(key, (chains.get(key) ?? 0) + us);
  }
  return [
    `callers of *${callersOf}*:`,
    ...[...chains.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12)
      .map(([k, us]) => `  ${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`),
  ];
}

const args = process.argv.slice(2);
const topAt = args.indexOf('--top');
const top = topAt >= 0 ? Number(args[topAt + 1]) : 25;
const callersAt = args.indexOf('--callers');
const callersOf = callersAt >= 0 ? args[callersAt + 1] : undefined;
const paths = args.filter(
  (a, i) => !a.startsWith('--') && (topAt < 0 || i !== topAt + 1) && (callersAt < 0 || i !== callersAt + 1),
);
if (paths.length === 0) {
  process.stderr.write('usage: node --import tsx bench/prof-top.ts <file-or-dir>... [--top 25]\n');
  process.exit(2);
}
for (const f of files(paths)) process.stdout.write(`${summarise(f, top)}\n\n`);
