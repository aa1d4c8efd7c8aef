/**
 * `noon up`: the whole cluster in this one process — Yellow, every service, a broker and the
 * BrokerList — sharing one Db (PGlite in the data dir unless NOON_PG_URL) and one Kv (in-process
 * unless NOON_REDIS). Services start before the broker, so the broker's first Yellow poll already
 * holds every route. SIGINT stops everything in reverse order and exits 0.
 */
import { mkdirSync } from 'node:fs';
import type { Config } from '../shared/config';
import type { Logger } from '../shared/log';
import { SERVICE_MODULES } from '../services/index';
import { printJson, stopOnSignals } from './lifecycle';
import { cliLogger } from './logger';
import {
  openData,
  startBrokerListRole,
  startBrokerRole,
  startServiceRole,
  startYellowRole,
  type RunningRole,
} from '../roles';

export interface UpSummary {
  mode: 'single' | 'processes';
  yellow: string;
  brokerlist: string;
  broker: { tcp: string; ws: string };
  dataDir?: string;
  pids: number[];
  instances: Array<{ role: string; instanceId: string; pid: number }>;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** The config every role of a cluster uses: its own Yellow, and ephemeral metrics ports. */
export function clusterConfig(cfg: Config, yellowRouter: string): Config {
  return { ...cfg, yellow: [yellowRouter], metricsPort: 0 };
}

export function summaryOf(mode: UpSummary['mode'], cfg: Config, roles: RunningRole[]): UpSummary {
  const find = (role: string): Record<string, unknown> => roles.find((r) => r.role === role)?.ready ?? {};
  const pids = [...new Set(roles.map((r) => Number(r.ready.pid)))];
  return {
    mode,
    yellow: str(find('yellow').router),
    brokerlist: str(find('brokerlist').url),
    broker: { tcp: str(find('broker').tcp), ws: str(find('broker').ws) },
    ...(cfg.pgUrl === undefined ? { dataDir: cfg.dataDir } : {}),
    pids,
    instances: roles.map((r) => ({ role: r.role, instanceId: str(r.ready.instanceId), pid: Number(r.ready.pid) })),
  };
}

/** The human part of `noon up`'s output (the JSON ready line comes first). */
export function describeUp(s: UpSummary): string {
  const roles = [...new Set(s.instances.map((i) => i.role))].join(', ');
  return [
    `noon is up (${s.mode === 'single' ? 'one process' : `${s.pids.length} processes`}): ${roles}`,
    `  BrokerList  ${s.brokerlist}`,
    `  broker      tcp ${s.broker.tcp}   ws ${s.broker.ws}`,
    `  Yellow      ${s.yellow}`,
    s.dataDir
      ? `  data        ${s.dataDir} (PGlite; set NOON_PG_URL for Postgres)`
      : '  data        Postgres (NOON_PG_URL)',
    `try it:  noon health --url ${s.brokerlist} --yellow ${s.yellow}`,
    `         noon yellow instances --yellow ${s.yellow}   ·   noon top --yellow ${s.yellow}`,
    'Ctrl-C stops everything.',
    '',
  ].join('\n');
}

async function stopAll(roles: RunningRole[], logger: Logger): Promise<void> {
  for (const r of [...roles].reverse()) {
    await r.stop().catch((err: unknown) => logger.error({ err, stopping: r.role }, 'stop failed'));
  }
}

export async function runUp(cfg: Config): Promise<void> {
  // Roles add their own role/instance bindings; the cluster's own lines say role "up".
  const logger = cliLogger(cfg);
  const upLog = logger.child({ role: 'up', instance: `up-${process.pid}` });
  if (cfg.pgUrl === undefined) mkdirSync(cfg.dataDir, { recursive: true });
  process.stderr.write(
    `noon up: opening data (${cfg.pgUrl === undefined ? `PGlite in ${cfg.dataDir}` : 'Postgres'})…\n`,
  );
  const data = await openData(cfg, upLog);
  const roles: RunningRole[] = [];
  const stop = async (): Promise<void> => {
    await stopAll(roles, upLog);
    await data.kv.close();
    await data.db.close();
  };
  try {
    const yellow = await startYellowRole(cfg, logger);
    roles.push(yellow);
    const ccfg = clusterConfig(cfg, str(yellow.ready.router));
    for (const mod of SERVICE_MODULES) {
      process.stderr.write(`noon up: starting ${mod.role}…\n`);
      roles.push(await startServiceRole(mod, ccfg, logger, data, { processMetrics: false }));
    }
    roles.push(await startBrokerRole({ ...ccfg, metricsPort: 0 }, logger, { kv: data.kv }));
    roles.push(await startBrokerListRole(ccfg, logger, { processMetrics: false }));
  } catch (err) {
    await stop();
    throw err;
  }
  const summary = summaryOf('single', cfg, roles);
  printJson({ ready: 'up', ...summary });
  process.stdout.write(describeUp(summary));
  stopOnSignals(stop, upLog);
}
