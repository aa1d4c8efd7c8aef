/**
 * Issue "foundation": service-to-service calls through the framework (ServiceCaller +
 * serviceClients → `Leaderboard:top` on the fixture service in a child process), next to a raw
 * zeromq.js DEALER → echo ROUTER (child process) with messages of the same size, at 1 and 64
 * calls in flight, in the same run. The load generator (and the calling side) is this process.
 *
 * `BENCH_BASE=<commit>[,<commit>…]` also runs each commit's Yellow and Leaderboard and its own
 * caller code (lib/base-tree.ts, loaded into this process), measured right before this
 * checkout's at each level, with a before/after table.
 *
 *   node --import tsx bench/service-calls.ts
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type * as CallerModule from '../rpc/caller';
import type * as ClientsModule from '../rpc/clients';
import type * as LinksModule from '../rpc/links';
import type * as YellowClientModule from '../yellow/client';
import { silentLogger } from '../shared/log';
import { encodeHeader } from '../shared/wire/frames';
import { closedLoop, timings, type LoadResult } from './lib/load';
import { topCall } from './lib/thrift-client';
import { ROOT, spawnReady, stopChild, waitFor, type Child } from './lib/procs';
import { baseTree } from './lib/base-tree';
import {
  beforeAfterTable,
  progress,
  ratioTable,
  resultTable,
  type BeforeAfter,
  type Ratio,
  type Row,
} from './lib/table';
import { RawZmqClient } from './lib/zmq-client';
import { runAsMain } from './lib/main';

const LEVELS = [1, 64];
const HEARTBEAT_MS = '250';
const TARGET = 0.6;
const BASES = process.env.BENCH_BASE ? process.env.BENCH_BASE.split(',') : [];

interface NoonSide {
  lb: Child;
  top(): Promise<unknown>;
  stop(): Promise<void>;
}

/**
 * A Yellow and the fixture Leaderboard from the code under `root`, and a caller in this process
 * built from that code's own modules (the same API as this checkout's is assumed).
 */
async function noonSide(root: string, children: Child[]): Promise<NoonSide> {
  const requireFrom = createRequire(join(root, 'package.json'));
  const load = <T>(module: string): T => requireFrom(`./${module}`) as T;
  const { Links } = load<typeof LinksModule>('rpc/links');
  const { ServiceCaller } = load<typeof CallerModule>('rpc/caller');
  const { serviceClients } = load<typeof ClientsModule>('rpc/clients');
  const { YellowClient } = load<typeof YellowClientModule>('yellow/client');
  const yellow = await spawnReady(
    'yellow',
    'test/support/yellow-proc.ts',
    { NOON_YELLOW_PORT: '0', NOON_HEARTBEAT_MS: HEARTBEAT_MS },
    60_000,
    root,
  );
  children.push(yellow);
  const env = { NOON_YELLOW: String(yellow.ready.router), NOON_HEARTBEAT_MS: HEARTBEAT_MS };
  const lb = await spawnReady('leaderboard', 'test/support/lb-service.ts', env, 60_000, root);
  children.push(lb);
  const logger = silentLogger();
  const yellowClient = new YellowClient({
    endpoints: [String(yellow.ready.router)],
    heartbeatMs: Number(HEARTBEAT_MS),
    logger,
  });
  const directory = await yellowClient.watch();
  const identity = `bench-${process.pid}-${children.length}`;
  const links = new Links({ identity, logger, maxQueued: 100_000, maxPayload: 1 << 20 });
  const caller = new ServiceCaller(directory, links);
  const clients = serviceClients(caller, () => ({
    sessionId: 's-bench',
    userId: 'u-bench',
    traceId: 'bench-trace-0001',
    via: identity,
    deadline: Date.now() + 5000,
  }));
  await waitFor('the Leaderboard instance in the directory', async () =>
    directory.instances({ thriftService: 'Leaderboard' }).length > 0 ? true : undefined,
  );
  const first = await clients.leaderboard.top('bench', 1);
  if (first.length !== 1) throw new Error(`Leaderboard:top answered ${first.length} entries`);
  return {
    lb,
    top: () => clients.leaderboard.top('bench', 1),
    stop: async () => {
      links.close();
      await yellowClient.stop();
    },
  };
}

export async function runServiceCalls(): Promise<string> {
  const { warmupMs, durationMs } = timings();
  const children: Child[] = [];
  const rows: Row[] = [];
  const ratios: Ratio[] = [];
  const vsBase: BeforeAfter[] = [];
  const sides: NoonSide[] = [];
  const raws: RawZmqClient[] = [];
  try {
    const bases: Array<{ name: string; side: NoonSide }> = [];
    for (const tree of BASES.map(baseTree)) {
      const side = await noonSide(tree.dir, children);
      sides.push(side);
      bases.push({ name: tree.name, side });
    }
    const noonHere = await noonSide(ROOT, children);
    sides.push(noonHere);
    const [echoC, echoP] = await Promise.all([
      spawnReady('echo-coalescing', 'bench/procs/zmq-echo.ts', { BENCH_SEND_MODE: 'coalescing' }),
      spawnReady('echo-plain', 'bench/procs/zmq-echo.ts', { BENCH_SEND_MODE: 'plain' }),
    ]);
    children.push(echoC, echoP);
    const identity = `bench-${process.pid}`;

    // Raw messages of the same size as noon's: its request header and the Thrift call bytes.
    const payload = topCall(1);
    const header = encodeHeader({
      kind: 'request',
      requestId: 1,
      timeoutMs: 5000,
      sessionId: 's-bench',
      userId: 'u-bench',
      username: 'bench',
      method: 'Leaderboard:top',
      via: identity,
      traceId: 'bench-trace-0001',
      payload,
    });
    const rawC = new RawZmqClient(String(echoC.ready.router), 'coalescing', header, payload);
    const rawP = new RawZmqClient(String(echoP.ready.router), 'plain', header, payload);
    raws.push(rawC, rawP);
    await rawC.call();
    await rawP.call();

    for (const inFlight of LEVELS) {
      const measure = async (label: string, call: () => Promise<unknown>, server: Child): Promise<LoadResult> => {
        const result = await closedLoop({
          inFlight,
          warmupMs,
          durationMs,
          call: async () => void (await call()),
          cpu: { client: process.pid, server: server.pid },
        });
        progress(`${label} @${inFlight}`, result);
        rows.push({ label, result });
        return result;
      };
      const before: Array<[string, LoadResult]> = [];
      for (const b of bases)
        before.push([b.name, await measure(`noon @ ${b.name}: caller → Leaderboard:top`, b.side.top, b.side.lb)]);
      const noon = await measure('noon: caller → Leaderboard:top', noonHere.top, noonHere.lb);
      for (const [name, result] of before)
        vsBase.push({ level: `${inFlight} in flight, ${name} → this checkout`, before: result, after: noon });
      const raw = await measure('raw zmq echo, coalescing sends', () => rawC.call(), echoC);
      const plain = await measure('raw zmq echo, plain sends', () => rawP.call(), echoP);
      ratios.push(
        { level: `${inFlight} in flight (vs coalescing)`, noon, raw, target: TARGET },
        { level: `${inFlight} in flight (vs plain)`, noon, raw: plain },
      );
    }
  } finally {
    for (const r of raws) r.close();
    for (const side of sides) await side.stop();
    await Promise.all(children.reverse().map((c) => stopChild(c)));
  }
  return [
    '### Service-to-service calls (foundation)',
    '',
    `Closed loop, ${timings().durationMs / 1000} s per row after ${timings().warmupMs / 1000} s warm-up. Client = this process; server = one child process.`,
    '',
    resultTable(rows),
    '',
    ratioTable('level', ratios),
    ...(vsBase.length > 0
      ? [
          '',
          'Before (a base commit) and after (this checkout), same run; CPU = the service:',
          '',
          beforeAfterTable('level', vsBase),
        ]
      : []),
  ].join('\n');
}

if (require.main === module) runAsMain(runServiceCalls);
