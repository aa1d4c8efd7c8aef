/**
 * An in-process cluster for broker tests: a real Yellow, service instances and brokers over real
 * sockets on 127.0.0.1 (ports from the OS), sharing one in-process store.
 */
import { loadConfig, type Config } from '../../shared/config';
import { silentLogger, type Logger } from '../../shared/log';
import { MemoryKv } from '../../shared/data/memory-kv';
import type { Kv } from '../../shared/data/kv';
import type { Db } from '../../shared/data/sql';
import { until } from './wait';
import { YellowServer } from '../../yellow/server';
import { YellowClient } from '../../yellow/client';
import type { Directory } from '../../yellow/directory';
import { startService, type RunningService } from '../../roles/service';
import type { AnyServiceModule } from '../../rpc/api';
import { startBrokerRole, type RunningBroker } from '../../roles/broker';

/** A broker of this cluster: plaintext is on here, so its tcp and ws endpoints are always there. */
export type PlainBroker = RunningBroker & { endpoints: { tcp: string; ws: string } };

export interface BrokerCluster {
  cfg: Config;
  brokers: PlainBroker[];
  services: RunningService[];
  directory: Directory;
  kv: Kv;
  until: typeof until;
  stop(): Promise<void>;
}

export async function startBrokerCluster(opts: {
  modules: { module: AnyServiceModule; count?: number }[];
  brokers?: number;
  config?: Partial<Record<keyof Config, unknown>>;
  db?: Db;
  /** where every role logs (default: nowhere) */
  logger?: Logger;
}): Promise<BrokerCluster> {
  const logger = opts.logger ?? silentLogger();
  const heartbeatMs = 100;
  const yellowServer = new YellowServer({ host: '127.0.0.1', port: 0, heartbeatMs, logger });
  const { router } = await yellowServer.start();
  const cfg = loadConfig(
    {
      yellow: [router],
      heartbeatMs,
      brokerPort: 0,
      brokerWsPort: 0,
      metricsPort: 0,
      logLevel: 'silent',
      ...opts.config,
    },
    {},
  );
  const kv = new MemoryKv();
  kv.start();
  const deps = { db: opts.db as Db, kv };
  const services: RunningService[] = [];
  for (const { module, count = 1 } of opts.modules) {
    for (let i = 0; i < count; i++)
      services.push(await startService(module.role, (env) => module.build(env, deps), { cfg, logger }));
  }
  const brokers: BrokerCluster['brokers'] = [];
  for (let i = 0; i < (opts.brokers ?? 1); i++) {
    const b = await startBrokerRole(cfg, logger, { kv });
    const { tcp, ws } = b.endpoints;
    if (tcp === undefined || ws === undefined) throw new Error('broker-cluster: a broker without plaintext endpoints');
    brokers.push({ ...b, endpoints: { ...b.endpoints, tcp, ws } });
  }
  const watcher = new YellowClient({ endpoints: [router], heartbeatMs, logger });
  const directory = await watcher.watch();
  const expected = services.length + brokers.length;
  await until('every instance registered', () => directory.instances().length >= expected);
  // Brokers learn routes from their own watchers: wait until each one routes to every service.
  return {
    cfg,
    brokers,
    services,
    directory,
    kv,
    until,
    stop: async () => {
      for (const b of brokers) await b.stop();
      for (const s of services) await s.stop();
      await watcher.stop();
      await yellowServer.stop();
      await kv.close();
    },
  };
}
