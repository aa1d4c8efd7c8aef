/**
 * Issue "foundation": service-to-service calls through the framework (ServiceCaller +
 * serviceClients → `Leaderboard:top` on the fixture service in a child process), next to a raw
 * zeromq.js DEALER → echo ROUTER (child process) with messages of the same size, at 1 and 64
 * calls in flight, in the same run. The load generator (and the calling side) is this process.
 *
 *   node --import tsx bench/service-calls.ts
 */
import { type Leaderboard } from '../shared/protocol';
import { silentLogger } from '../shared/log';
import { encodeHeader } from '../shared/wire/frames';
import { ServiceCaller } from '../rpc/caller';
import { serviceClients } from '../rpc/clients';
import { Links } from '../rpc/links';
import { YellowClient } from '../yellow/client';
import { closedLoop, timings, type LoadResult } from './lib/load';
import { topCall } from './lib/thrift-client';
import { spawnReady, stopChild, waitFor, type Child } from './lib/procs';
import { progress, ratioTable, resultTable, type Ratio, type Row } from './lib/table';
import { RawZmqClient } from './lib/zmq-client';
import { runAsMain } from './lib/main';

const LEVELS = [1, 64];
const HEARTBEAT_MS = '250';
const TARGET = 0.6;

export async function runServiceCalls(): Promise<string> {
  const { warmupMs, durationMs } = timings();
  const children: Child[] = [];
  const rows: Row[] = [];
  const ratios: Ratio[] = [];
  let yellowClient: YellowClient | undefined;
  let links: Links | undefined;
  const raws: RawZmqClient[] = [];
  try {
    const yellow = await spawnReady('yellow', 'test/support/yellow-proc.ts', {
      NOON_YELLOW_PORT: '0',
      NOON_HEARTBEAT_MS: HEARTBEAT_MS,
    });
    children.push(yellow);
    const env = { NOON_YELLOW: String(yellow.ready.router), NOON_HEARTBEAT_MS: HEARTBEAT_MS };
    const [lb, echoC, echoP] = await Promise.all([
      spawnReady('leaderboard', 'test/support/lb-service.ts', env),
      spawnReady('echo-coalescing', 'bench/procs/zmq-echo.ts', { BENCH_SEND_MODE: 'coalescing' }),
      spawnReady('echo-plain', 'bench/procs/zmq-echo.ts', { BENCH_SEND_MODE: 'plain' }),
    ]);
    children.push(lb, echoC, echoP);

    const logger = silentLogger();
    yellowClient = new YellowClient({
      endpoints: [String(yellow.ready.router)],
      heartbeatMs: Number(HEARTBEAT_MS),
      logger,
    });
    const directory = await yellowClient.watch();
    const identity = `bench-${process.pid}`;
    links = new Links({ identity, logger, maxQueued: 100_000, maxPayload: 1 << 20 });
    const caller = new ServiceCaller(directory, links);
    const clients = serviceClients(caller, () => ({
      sessionId: 's-bench',
      userId: 'u-bench',
      traceId: 'bench-trace-0001',
      via: identity,
      deadline: Date.now() + 5000,
    }));
    const lbClient: Leaderboard.Client = clients.leaderboard;
    await waitFor('the Leaderboard instance in the directory', async () =>
      directory.instances({ thriftService: 'Leaderboard' }).length > 0 ? true : undefined,
    );
    const first = await lbClient.top('bench', 1);
    if (first.length !== 1) throw new Error(`Leaderboard:top answered ${first.length} entries`);

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
      const noon = await measure('noon: caller → Leaderboard:top', () => lbClient.top('bench', 1), lb);
      const raw = await measure('raw zmq echo, coalescing sends', () => rawC.call(), echoC);
      const plain = await measure('raw zmq echo, plain sends', () => rawP.call(), echoP);
      ratios.push(
        { level: `${inFlight} in flight (vs coalescing)`, noon, raw, target: TARGET },
        { level: `${inFlight} in flight (vs plain)`, noon, raw: plain },
      );
    }
  } finally {
    for (const r of raws) r.close();
    links?.close();
    await yellowClient?.stop();
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
  ].join('\n');
}

if (require.main === module) runAsMain(runServiceCalls);
