/**
 * One function per role kind, each returning a RunningRole: what its ready line reports and how
 * to stop it. `noon start <role>` runs one per process; `noon up` runs them all in one process,
 * sharing one Db and one Kv. Every role serves /metrics and registers that URL in Yellow.
 */
import { curveOf, type Config } from '../shared/config';
import type { Db } from '../shared/data/sql';
import type { Kv } from '../shared/data/kv';
import { openDb } from '../shared/data/db';
import { migrate } from '../shared/data/migrate';
import { openKv } from '../shared/data/store';
import type { Logger } from '../shared/log';
import { Metrics } from '../shared/metrics';
import { Broker } from '../broker/broker';
import { BrokerListServer } from '../edge/brokerlist/server';
import type { AnyServiceModule } from '../services/framework/module';
import { NOON_VERSION, newInstanceId, startService } from '../services/framework/runtime';
import { YellowClient } from '../yellow/client';
import { YellowServer } from '../yellow/server';

export const INFRA_ROLES = ['yellow', 'brokerlist', 'broker'] as const;

export interface RunningRole {
  role: string;
  /** the ready line's fields besides `ready`: instance id, endpoints, pid */
  ready: Record<string, unknown>;
  stop(): Promise<void>;
}

/** Shared data handles (`noon up`); a role opens its own when none are given and closes them. */
export interface SharedData {
  db: Db;
  kv: Kv;
}

/** Metrics for one component; process-level metrics only for the first one of a process. */
async function serveMetrics(cfg: Config, role: string, instanceId: string, defaults: boolean): Promise<{ metrics: Metrics; url: string }> {
  const metrics = new Metrics({ role, instanceId, defaults });
  const url = await metrics.serve(cfg.host, cfg.metricsPort);
  return { metrics, url };
}

/**
 * Yellow, plus a registration of itself (role 'yellow', its ROUTER, PUB and metrics URL) so that
 * operators see it in `noon yellow instances` and `noon top` like every other process.
 */
export async function startYellowRole(cfg: Config, logger: Logger, opts: { processMetrics?: boolean } = {}): Promise<RunningRole> {
  const instanceId = newInstanceId('yellow');
  const log = logger.child({ role: 'yellow', instance: instanceId });
  const curve = curveOf(cfg);
  const server = new YellowServer({ host: cfg.host, port: cfg.yellowPort, heartbeatMs: cfg.heartbeatMs, logger: log, ...(curve ? { curve } : {}) });
  const endpoints = await server.start();
  const { metrics, url } = await serveMetrics(cfg, 'yellow', instanceId, opts.processMetrics ?? true);
  const self = new YellowClient({ endpoints: [endpoints.router], heartbeatMs: cfg.heartbeatMs, logger: log, ...(curve ? { curve } : {}) });
  await self.register({
    role: 'yellow', instanceId, host: cfg.host, version: NOON_VERSION, pid: process.pid, startedAt: Date.now(),
    endpoints: { router: endpoints.router, pub: endpoints.pub, metrics: url }, load: { inFlight: 0, elu: 0 },
  }).catch((err: Error) => log.warn({ err: err.message }, 'yellow could not register itself'));
  return {
    role: 'yellow',
    ready: { instanceId, router: endpoints.router, pub: endpoints.pub, metrics: url, pid: process.pid },
    stop: async () => {
      await self.deregister().catch(() => undefined);
      await self.stop();
      await server.stop();
      await metrics.close();
    },
  };
}

/**
 * The BrokerList, composed here rather than through runBrokerList so that its registration
 * carries a metrics URL (runBrokerList takes none).
 */
export async function startBrokerListRole(cfg: Config, logger: Logger, opts: { processMetrics?: boolean } = {}): Promise<RunningRole> {
  const instanceId = newInstanceId('brokerlist');
  const log = logger.child({ role: 'brokerlist', instance: instanceId });
  const curve = curveOf(cfg);
  const yellow = new YellowClient({ endpoints: cfg.yellow, heartbeatMs: cfg.heartbeatMs, logger: log, ...(curve ? { curve } : {}) });
  const directory = await yellow.watch();
  const server = new BrokerListServer({ directory, host: cfg.host, port: cfg.brokerlistPort, logger: log, version: NOON_VERSION });
  const url = await server.start();
  const { metrics, url: metricsUrl } = await serveMetrics(cfg, 'brokerlist', instanceId, opts.processMetrics ?? true);
  await yellow.register({
    role: 'brokerlist', instanceId, host: cfg.host, endpoints: { http: url, metrics: metricsUrl }, version: NOON_VERSION,
    pid: process.pid, startedAt: Date.now(), load: { inFlight: 0, elu: 0 },
  }).catch((err: Error) => log.warn({ err: err.message }, 'no Yellow acknowledged the registration yet; retrying in the background'));
  log.info({ url, metrics: metricsUrl }, 'brokerlist started');
  return {
    role: 'brokerlist',
    ready: { instanceId, url, metrics: metricsUrl, pid: process.pid },
    stop: async () => {
      await yellow.deregister().catch(() => undefined);
      await server.stop();
      await yellow.stop();
      await metrics.close();
    },
  };
}

export async function startBrokerRole(cfg: Config, logger: Logger, shared?: { kv: Kv }): Promise<RunningRole> {
  const broker = new Broker({ cfg, logger, ...(shared ? { kv: shared.kv } : {}) });
  const endpoints = await broker.start();
  return { role: 'broker', ready: { ...endpoints, pid: process.pid }, stop: () => broker.stop() };
}

/** Applies one module's migrations; returns how many ran now. */
export async function migrateModule(db: Db, mod: AnyServiceModule): Promise<number> {
  return migrate(db, mod.role, mod.migrations);
}

export async function openData(cfg: Config, logger: Logger): Promise<SharedData> {
  const db = await openDb({ ...(cfg.pgUrl !== undefined ? { pgUrl: cfg.pgUrl } : {}), dataDir: cfg.dataDir, logger });
  try {
    return { db, kv: await openKv({ redis: cfg.redis, logger }) };
  } catch (err) {
    await db.close();
    throw err;
  }
}

/**
 * A game service: migrations, a metrics server whose observer counts every call, the framework
 * runtime. With `shared` data the caller owns (and closes) the Db and Kv.
 */
export async function startServiceRole(mod: AnyServiceModule, cfg: Config, logger: Logger, shared?: SharedData, opts: { processMetrics?: boolean } = {}): Promise<RunningRole> {
  const instanceId = newInstanceId(mod.role);
  // startService adds role/instance to `logger` itself; `log` is for this function's own lines.
  const log = logger.child({ role: mod.role, instance: instanceId });
  const data = shared ?? (await openData(cfg, log));
  const closeData = async (): Promise<void> => {
    if (shared) return;
    await data.kv.close();
    await data.db.close();
  };
  try {
    const applied = await migrateModule(data.db, mod);
    if (applied > 0) log.info({ applied }, 'migrations applied');
    const { metrics, url } = await serveMetrics(cfg, mod.role, instanceId, opts.processMetrics ?? true);
    const running = await startService(mod.role, (env) => mod.build(env, data), { cfg, logger, instanceId, observer: metrics.observer(), metricsUrl: url }).catch(async (err: unknown) => {
      await metrics.close();
      throw err;
    });
    return {
      role: mod.role,
      ready: { instanceId, ...running.endpoints, metrics: url, pid: process.pid },
      stop: async () => {
        await running.stop();
        await metrics.close();
        await closeData();
      },
    };
  } catch (err) {
    await closeData();
    throw err;
  }
}
