/**
 * Pushes per second from one service instance through a broker to subscribed framed-TCP clients,
 * unnumbered (the path before the push stream: straight to the broker a call came through) next
 * to numbered (docs/pushes.md: one Lua round trip to the session store, which numbers the push,
 * keeps it in the window and answers the session's broker). Both in one run, in one process:
 * Yellow, a broker on real Redis (logical database 9, a unique key prefix), a fake sso and the
 * pushing service. The pusher keeps at most WINDOW pushes unreceived (a closed loop).
 *
 *   node --import tsx bench/pushes.ts        (BENCH_REDIS_URL overrides the server)
 */
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../shared/config';
import { silentLogger } from '../shared/log';
import { RedisKv } from '../shared/data/redis-kv';
import { PushLog, pushWindowOf } from '../shared/data/push-log';
import { Events, Wallet } from '../shared/protocol';
import { events } from '../shared/thrift/events';
import { YellowServer } from '../yellow/server';
import { startService, type RunningService } from '../roles/service';
import { startBrokerRole } from '../roles/broker';
import { fakeSso } from '../test/support/broker-fakes';
import { rawClient, type RawClient } from '../test/support/raw-client';
import { runAsMain } from './lib/main';

const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/9';
const CLIENTS = 50;
const WINDOW = 2000;
const WARMUP_MS = process.env.BENCH_QUICK ? 300 : 1000;
const MEASURE_MS = process.env.BENCH_QUICK ? 1000 : 3000;

async function measure(pusher: RunningService, sessions: string[], received: () => number): Promise<number> {
  const message = events.walletChanged(new Wallet({ soft: 1, hard: 2 }));
  // counted from this run's start: the clients' totals include the previous path's pushes
  const base = received();
  let sent = 0;
  const run = async (ms: number): Promise<number> => {
    const start = received();
    const end = Date.now() + ms;
    while (Date.now() < end) {
      while (sent - (received() - base) < WINDOW)
        pusher.env.push(sessions[sent++ % sessions.length] as string, message);
      await new Promise((r) => setImmediate(r));
    }
    return received() - start;
  };
  await run(WARMUP_MS);
  return ((await run(MEASURE_MS)) * 1000) / MEASURE_MS;
}

export async function runPushes(): Promise<string> {
  const logger = silentLogger();
  const yellow = new YellowServer({ host: '127.0.0.1', port: 0, heartbeatMs: 250, logger });
  const { router } = await yellow.start();
  const cfg = loadConfig(
    {
      yellow: [router],
      heartbeatMs: 250,
      brokerPort: 0,
      brokerWsPort: 0,
      metricsPort: 0,
      logLevel: 'silent',
      outboundQueue: 100_000,
      outboundBytes: 1 << 30,
    },
    {},
  );
  const kv = new RedisKv({ shards: [REDIS_URL], logger, keyPrefix: `bench-push-${randomBytes(4).toString('hex')}:` });
  await kv.start();
  const deps = { db: undefined as never, kv };
  const sso = await startService('sso', (env) => fakeSso.build(env, deps), { cfg, logger, processMetrics: false });
  const broker = await startBrokerRole(cfg, logger, { kv });
  const def = () => ({
    role: 'pusher',
    thriftService: 'Pusher',
    processor: Events.Processor,
    stateful: false,
    handlers: {} as never,
  });
  const plain = await startService('pusher', def, { cfg, logger, processMetrics: false });
  const numbered = await startService('pusher', def, {
    cfg,
    logger,
    processMetrics: false,
    pushLog: new PushLog(kv, pushWindowOf(cfg)),
  });
  const clients: RawClient[] = [];
  const sessions: string[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    let c: RawClient | undefined;
    for (let attempt = 0; !c; attempt++) {
      const next = await rawClient(broker.endpoints.tcp as string);
      try {
        const s = await next.sso.login(`u${i}`, `pw-u${i}`);
        sessions.push(s.sessionId as string);
        c = next;
      } catch (err) {
        next.close();
        if (attempt > 50) throw err;
        await new Promise((r) => setTimeout(r, 100)); // the broker is still learning routes
      }
    }
    clients.push(c);
  }
  const received = (): number => clients.reduce((n, c) => n + c.pushes.length, 0);
  // one call per session through the plain pusher's broker would teach it `via`; with none it
  // sends to every broker, and there is one here: the same single hop.
  const before = await measure(plain, sessions, received);
  const after = await measure(numbered, sessions, received);
  for (const c of clients) c.close();
  await numbered.stop();
  await plain.stop();
  await broker.stop();
  await sso.stop();
  await kv.close();
  await yellow.stop();
  const f = (n: number): string => Math.round(n).toLocaleString('en-US');
  return [
    `## Pushes: ${CLIENTS} subscribed TCP clients, one pushing instance, ${WINDOW} unreceived at most`,
    '',
    '| path | pushes/s received |',
    '| --- | ---: |',
    `| unnumbered (before: no session store on the push path) | ${f(before)} |`,
    `| numbered (after: seq + window + broker lookup, one Lua call per push) | ${f(after)} |`,
    `| ratio after / before | ${(after / before).toFixed(2)} |`,
  ].join('\n');
}

if (process.argv[1]?.endsWith('pushes.ts')) runAsMain(runPushes);
