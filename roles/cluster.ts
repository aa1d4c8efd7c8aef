/**
 * A whole cluster in one process (`noon up`, and studios' tests through `noon/testing`): Yellow,
 * every given service module, a broker, the BrokerList and (with an admin token) the console, sharing one Db (PGlite in the data dir
 * unless cfg.pgUrl) and one Kv (in-process unless cfg.redis). Services start before the broker,
 * so the broker's first Yellow poll already holds every route. stop() goes in reverse order.
 */
import { mkdirSync } from 'node:fs';
import type { Config } from '../shared/config';
import type { Logger } from '../shared/log';
import type { AnyServiceModule } from '../rpc/api';
import { startBrokerListRole } from './brokerlist';
import { startBrokerRole } from './broker';
import { startConsoleRole } from './console';
import { openData } from './data';
import type { RunningRole } from './host';
import { startServiceRole } from './service';
import { startYellowRole } from './yellow';
import { jobHandlersOf, startWorkerRole } from './worker';

export interface RunningCluster {
  /** every role, in start order */
  roles: RunningRole[];
  /** the config each role ran with: the cluster's own Yellow, ephemeral metrics ports */
  cfg: Config;
  stop(): Promise<void>;
}

/**
 * The config every role of a cluster uses: its own Yellow, and ephemeral metrics and service
 * ports (several roles share the host, so one fixed port would clash).
 */
export function clusterConfig(cfg: Config, yellowRouter: string): Config {
  return {
    ...cfg,
    yellow: [yellowRouter],
    metricsPort: 0,
    serviceRouterPort: 0,
    serviceInternalPort: 0,
    servicePubPort: 0,
    workerPullPort: 0,
  };
}

async function stopAll(roles: RunningRole[], logger: Logger): Promise<void> {
  for (const r of [...roles].reverse()) {
    await r.stop().catch((err: unknown) => logger.error({ err, stopping: r.role }, 'stop failed'));
  }
}

export async function startCluster(
  cfg: Config,
  modules: readonly AnyServiceModule[],
  logger: Logger,
  progress: (line: string) => void = () => undefined,
): Promise<RunningCluster> {
  const log = logger.child({ role: 'up', instance: `up-${process.pid}` });
  if (cfg.pgUrl === undefined) mkdirSync(cfg.dataDir, { recursive: true });
  progress(`opening data (${cfg.pgUrl === undefined ? `PGlite in ${cfg.dataDir}` : 'Postgres'})…`);
  const data = await openData(cfg, log);
  const roles: RunningRole[] = [];
  const stop = async (): Promise<void> => {
    await stopAll(roles, log);
    await data.kv.close();
    await data.db.close();
  };
  try {
    const yellow = await startYellowRole(cfg, logger);
    roles.push(yellow);
    const ccfg = clusterConfig(cfg, String(yellow.ready.router));
    for (const mod of modules) {
      progress(`starting ${mod.role}…`);
      roles.push(await startServiceRole(mod, ccfg, logger, data, { processMetrics: false }));
    }
    // A module that declares jobs needs a worker to run them, or they wait in the outbox for good.
    if (jobHandlersOf(modules).size > 0) {
      progress('starting worker…');
      roles.push(await startWorkerRole(modules, ccfg, logger, data, { processMetrics: false }));
    }
    // process metrics once per process: Yellow, the first component, carries them
    roles.push(await startBrokerRole(ccfg, logger, { kv: data.kv }, { processMetrics: false }));
    roles.push(await startBrokerListRole(ccfg, logger, { processMetrics: false }));
    // The console only with an admin token: it is its credential, and it is never open.
    if (ccfg.adminToken !== undefined) {
      progress('starting console…');
      roles.push(await startConsoleRole(ccfg, logger, { processMetrics: false, data }));
    }
    return { roles, cfg: ccfg, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
