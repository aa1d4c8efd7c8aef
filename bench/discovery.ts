/**
 * Discovery cost at 25, 50, 100 and 200 registered instances, before and after versioned deltas,
 * and the time from a SIGKILL to the consumer's `down`.
 *
 * Before is the code of a base commit (the full-table poll every heartbeat, every load change
 * broadcast), extracted into dist/ and run by the same child scripts as the current code.
 * Each mode gets one Yellow, one measured consumer (what a broker does: watch the table) and a
 * fleet of simulated service processes added in steps; every fleet member registers and
 * heartbeats with an idle service's jittering ELU, and BENCH_DISCOVERY_WATCHERS of them (default
 * 10) also watch the table.
 * CPU from /proc, bytes from counters on the ZeroMQ sockets (lib/zmq-bytes.ts), over a window
 * after Yellow's warm-up.
 *
 *   node --import tsx bench/discovery.ts             (npm run bench:discovery)
 *   BENCH_DISCOVERY_BASE=<commit>                    the "before" code (default 043a17f)
 *   BENCH_QUICK=1                                    short windows, two sizes
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { silentLogger } from '../shared/log';
import { YellowClient } from '../yellow/client';
import { runAsMain } from './lib/main';
import { cpuMicros, ROOT, spawnReady, stopChild, waitFor, type Child } from './lib/procs';

const BASE = process.env.BENCH_DISCOVERY_BASE ?? '043a17f';
const QUICK = process.env.BENCH_QUICK === '1';
const SIZES = QUICK ? [25, 50] : [25, 50, 100, 200];
const HEARTBEAT_MS = 1000;
const WINDOW_MS = QUICK ? 3000 : 5000;
/**
 * Fleet members that also watch (brokers, and services that call others). Every member watching
 * is the real N² case, but 200 old-style watchers polling 200 records each do not fit on the
 * shared 2-core machine this was measured on; with a fixed number the old cost still grows with N.
 */
const WATCHERS = Number(process.env.BENCH_DISCOVERY_WATCHERS ?? 10);
/** Yellow's warm-up (consumers poll while it lasts) is over by then, in both versions. */
const WARMUP_MS = 7500;
const KILL_ROUNDS = QUICK ? 1 : 3;

interface Counters {
  sent: number;
  received: number;
  size: number;
}

/** Follows a child's `{"bytes":…}` and `{"size":…}` lines. */
function follow(child: Child): Counters {
  const c: Counters = { sent: 0, received: 0, size: 0 };
  createInterface({ input: child.proc.stdout! }).on('line', (line) => {
    if (!line.startsWith('{')) return;
    try {
      const v = JSON.parse(line) as { bytes?: { sent: number; received: number }; size?: number };
      if (v.bytes) Object.assign(c, { sent: v.bytes.sent, received: v.bytes.received });
      if (typeof v.size === 'number') c.size = v.size;
    } catch {
      // not ours
    }
  });
  return c;
}

/**
 * The base commit's yellow/ and shared/ sources, under dist/ (gitignored, and outside what tsc
 * and eslint check), where their imports of zeromq still resolve.
 */
function baseSources(): string {
  const dir = join(ROOT, 'dist', `bench-base-${BASE}`);
  if (!existsSync(join(dir, 'yellow', 'watcher.ts'))) {
    mkdirSync(dir, { recursive: true });
    const tar = execFileSync('git', ['-C', ROOT, 'archive', BASE, 'yellow', 'shared']);
    execFileSync('tar', ['-x', '-C', dir], { input: tar });
  }
  return dir;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Point {
  n: number;
  yellowCpuMs: number;
  yellowKBs: number;
  consumerCpuMs: number;
  consumerBs: number;
}

async function runMode(label: string, codeRoot: string): Promise<Point[]> {
  const env = { CODE_ROOT: codeRoot, HEARTBEAT_MS: String(HEARTBEAT_MS) };
  const children: Child[] = [];
  const points: Point[] = [];
  try {
    const yellow = await spawnReady(`yellow-${label}`, 'bench/procs/discovery-yellow.ts', env, 60_000);
    const startedAt = Date.now();
    children.push(yellow);
    const yc = follow(yellow);
    const router = String(yellow.ready.router);
    const consumer = await spawnReady(
      `consumer-${label}`,
      'bench/procs/discovery-consumer.ts',
      { ...env, ROUTER: router },
      60_000,
    );
    children.push(consumer);
    const cc = follow(consumer);
    let total = 0;
    for (const n of SIZES) {
      const watchers = total === 0 ? WATCHERS : 0;
      const fleet = {
        ...env,
        ROUTER: router,
        COUNT: String(n - total),
        WATCHERS: String(watchers),
        PREFIX: `f${children.length}`,
      };
      children.push(await spawnReady(`fleet-${label}`, 'bench/procs/discovery-fleet.ts', fleet, 180_000));
      total = n;
      await waitFor(`${label}: the consumer sees ${n} instances`, () => (cc.size >= n ? true : undefined), 180_000);
      await sleep(Math.max(2000, WARMUP_MS - (Date.now() - startedAt)));
      const y0 = { cpu: cpuMicros(yellow.pid), bytes: yc.sent };
      const c0 = { cpu: cpuMicros(consumer.pid), bytes: cc.received };
      const t0 = Date.now();
      await sleep(WINDOW_MS);
      const s = (Date.now() - t0) / 1000;
      points.push({
        n,
        yellowCpuMs: (cpuMicros(yellow.pid) - y0.cpu) / 1000 / s,
        yellowKBs: (yc.sent - y0.bytes) / 1024 / s,
        consumerCpuMs: (cpuMicros(consumer.pid) - c0.cpu) / 1000 / s,
        consumerBs: (cc.received - c0.bytes) / s,
      });
      process.stderr.write(`  ${label} ${n}: ${JSON.stringify(points[points.length - 1])}\n`);
    }
  } finally {
    for (const c of children.reverse()) await stopChild(c);
  }
  return points;
}

/** SIGKILL of a registered provider to `down` at a watching consumer, default heartbeat. */
async function killToDown(): Promise<number[]> {
  const out: number[] = [];
  const yellow = await spawnReady('yellow-kill', 'bench/procs/discovery-yellow.ts', { HEARTBEAT_MS: '1000' }, 60_000);
  const router = String(yellow.ready.router);
  const client = new YellowClient({ endpoints: [router], heartbeatMs: 1000, logger: silentLogger() });
  try {
    const dir = await client.watch();
    for (let i = 0; i < KILL_ROUNDS; i++) {
      const id = `player-kill-${i}`;
      const env = { NOON_YELLOW: router, NOON_HEARTBEAT_MS: '1000', PROVIDER_ID: id };
      const provider = await spawnReady(id, 'test/support/yellow-provider.ts', env, 60_000);
      await waitFor(`${id} listed`, () => (dir.isAlive(id) ? true : undefined), 30_000);
      // Kill at a random point of the heartbeat cycle.
      await sleep(1000 + Math.random() * 1000);
      const down = new Promise<number>((resolve) => dir.on('down', (d) => d.instanceId === id && resolve(Date.now())));
      const killedAt = Date.now();
      provider.proc.kill('SIGKILL');
      out.push((await down) - killedAt);
      await provider.exited;
    }
  } finally {
    await client.stop();
    await stopChild(yellow);
  }
  return out;
}

const f1 = (x: number): string => x.toFixed(1);

export async function runDiscovery(): Promise<string> {
  process.stderr.write(`discovery: before = ${BASE} (full poll), after = this checkout (deltas)\n`);
  const before = await runMode('before', baseSources());
  const after = await runMode('after', ROOT);
  const kills = await killToDown();
  const lines = [
    `### Discovery cost (heartbeat ${HEARTBEAT_MS} ms; ${WATCHERS} of the instances and the measured consumer watch; ${WINDOW_MS / 1000} s windows)`,
    '',
    `before = ${BASE} (every watcher queries the full table every heartbeat, every load change broadcast); after = versioned deltas`,
    '',
    '| instances | Yellow CPU ms/s before | after | Yellow KB/s sent before | after | consumer CPU ms/s before | after | consumer B/s received before | after |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  before.forEach((b, i) => {
    const a = after[i];
    if (!a) return;
    lines.push(
      `| ${b.n} | ${f1(b.yellowCpuMs)} | ${f1(a.yellowCpuMs)} | ${f1(b.yellowKBs)} | ${f1(a.yellowKBs)} | ${f1(b.consumerCpuMs)} | ${f1(a.consumerCpuMs)} | ${b.consumerBs.toFixed(0)} | ${a.consumerBs.toFixed(0)} |`,
    );
  });
  const sorted = [...kills].sort((x, y) => x - y);
  lines.push(
    '',
    `### SIGKILL to \`down\` at a watching consumer (heartbeat 1000 ms, ${kills.length} kills at random points of the cycle)`,
    '',
    `min ${sorted[0]} ms, max ${sorted[sorted.length - 1]} ms (all: ${kills.join(', ')} ms)`,
  );
  return lines.join('\n');
}

if (require.main === module) runAsMain(runDiscovery);
