/**
 * The cluster of the push-stream tests: Yellow, sso, player, duel and two brokers as `noon start`
 * processes on real Postgres and Redis (logical database 9), and in this process a `notifier`
 * service instance on the same Redis whose only job is to push Events to a session, as any
 * service does (the real ServiceServer.push path: numbered, routed to the session's broker).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import Redis from 'ioredis';
import { loadConfig } from '../../shared/config';
import { silentLogger } from '../../shared/log';
import { RedisKv } from '../../shared/data/redis-kv';
import { PushLog, pushWindowOf } from '../../shared/data/push-log';
import { Events } from '../../shared/protocol';
import { startService, type RunningService } from '../../roles/service';
import { NoonClient } from '../../client';
import { kill, killAll, spawnNoon, type Child } from './yellow-harness';
import { until } from './wait';
import { TEST_PG_URL, pgUrlFor, redisUrlFor } from './services';

/** How long the children get to stop on SIGTERM before every one left is SIGKILLed (a deadline, not a sleep). */
const STOP_GRACE_MS = 5000;

export const PUSH_REDIS_DB = 9;
/** small, so a test can push past it */
export const PUSH_WINDOW_COUNT = 20;

export interface PushCluster {
  env: Record<string, string>;
  brokers: [string, string];
  notifier: RunningService;
  redis: Redis;
  /** the newest seq of a session's stream, read from the session store */
  headOf(sessionId: string): Promise<number>;
  stop(): Promise<void>;
}

export async function startPushCluster(): Promise<PushCluster> {
  const dbName = `noon_push_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_PG_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  const redis = new Redis({ host: '127.0.0.1', port: 6379, db: PUSH_REDIS_DB });
  await redis.flushdb();
  const env: Record<string, string> = {
    NOON_PG_URL: pgUrlFor(dbName),
    NOON_REDIS: redisUrlFor(PUSH_REDIS_DB),
    NOON_HEARTBEAT_MS: '200',
    NOON_SCRYPT_N: '1024',
    NOON_CALLS_PER_SECOND: '5000',
    NOON_LOG_LEVEL: 'warn',
    NOON_YELLOW_PORT: '0',
    NOON_BROKER_PORT: '0',
    NOON_BROKER_WS_PORT: '0',
    NOON_METRICS_PORT: '0',
    NOON_DATA_DIR: `/tmp/${dbName}`,
    NOON_PURCHASE_VERIFIER: 'development',
    NOON_DUEL_TURN_MS: '120000',
    NOON_PUSH_WINDOW_COUNT: String(PUSH_WINDOW_COUNT),
  };
  const procs: Child[] = [];
  const yellow = await spawnNoon(['start', 'yellow'], env);
  procs.push(yellow);
  env.NOON_YELLOW = String(yellow.ready.router);
  const roles = ['sso', 'player', 'duel', 'broker', 'broker'];
  const started = await Promise.all(roles.map((r) => spawnNoon(['start', r], env, 60_000)));
  procs.push(...started);
  const brokers = [String(started[3]?.ready.tcp), String(started[4]?.ready.tcp)] as [string, string];
  const cfg = loadConfig(
    { yellow: [env.NOON_YELLOW], heartbeatMs: 200, logLevel: 'silent', pushWindowCount: PUSH_WINDOW_COUNT },
    {},
  );
  const kv = new RedisKv({ shards: [env.NOON_REDIS as string], logger: silentLogger() });
  await kv.start();
  const notifier = await startService(
    'notifier',
    () => ({
      role: 'notifier',
      thriftService: 'Notifier',
      processor: Events.Processor,
      stateful: false,
      handlers: {} as never,
    }),
    { cfg, logger: silentLogger(), processMetrics: false, pushLog: new PushLog(kv, pushWindowOf(cfg)) },
  );
  for (const tcp of brokers)
    await until(
      `${tcp} routes to sso, player and duel`,
      async () => {
        const c = await NoonClient.connect({ tcp }, { reconnect: false });
        try {
          return (await c.sso.ping()) && (await c.player.ping()) && (await c.duel.ping()) ? true : undefined;
        } finally {
          c.close();
        }
      },
      30_000,
    );
  return {
    env,
    brokers,
    notifier,
    redis,
    headOf: async (sessionId) => Number((await redis.hget(`sess:{${sessionId}}`, 'pushSeq')) ?? 0),
    stop: async () => {
      await notifier.stop();
      await kv.close();
      const stopping = procs.map((p) => kill(p, 'SIGTERM'));
      const deadline = setTimeout(() => killAll(), STOP_GRACE_MS);
      await Promise.all(stopping);
      clearTimeout(deadline);
      await redis.flushdb();
      redis.disconnect();
      const a = new pg.Client({ connectionString: TEST_PG_URL });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      await a.end();
    },
  };
}
