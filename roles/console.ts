/**
 * `noon console` (`noon start console`): the web console, a role of its own. It watches Yellow,
 * scrapes every instance's /metrics, reads sessions from sso's tables and the shared store
 * (given by `noon up`, else opened from the config), drains through Yellow, and taps the brokers;
 * its page is served on consolePort and registered in Yellow as `http`. It refuses to start
 * without NOON_ADMIN_TOKEN: the console is never open.
 */
import { ConsoleServer } from '../console/server';
import { loadAssets } from '../console/assets';
import { ClusterScraper } from '../console/scraper';
import { SessionLookup } from '../console/sessions';
import { ConfigError, type Config } from '../shared/config';
import { advertise, bindHostOf } from '../shared/endpoints';
import type { Logger } from '../shared/log';
import { openData, type SharedData } from './data';
import { RoleHost, type RunningRole } from './host';

export interface ConsoleRoleOptions {
  processMetrics?: boolean;
  /** the Db and Kv of `noon up`; else the role opens (and closes) its own */
  data?: SharedData;
  /** ms between scrapes of every /metrics; default 1000 */
  scrapeMs?: number;
}

export function startConsoleRole(cfg: Config, logger: Logger, opts: ConsoleRoleOptions = {}): Promise<RunningRole> {
  const adminToken = cfg.adminToken;
  if (adminToken === undefined)
    throw new ConfigError(
      '--admin-token / NOON_ADMIN_TOKEN',
      'the console needs the cluster admin token: it is the credential the console asks for, and what it taps the brokers with',
    );
  const metrics = opts.processMetrics === undefined ? {} : { processMetrics: opts.processMetrics };
  return RoleHost.run({ role: 'console', cfg, logger, ...metrics }, async (host) => {
    const assets = await loadAssets();
    const data = opts.data ?? (await openData(cfg, host.logger));
    if (!opts.data)
      host.onStop(async () => {
        await data.kv.close();
        await data.db.close();
      });
    const directory = await host.directory();
    const scraper = new ClusterScraper({
      directory,
      logger: host.logger,
      ...(opts.scrapeMs !== undefined ? { intervalMs: opts.scrapeMs } : {}),
    });
    scraper.start();
    host.onStop(() => scraper.stop());
    const server = new ConsoleServer({
      host: bindHostOf(cfg),
      port: cfg.consolePort,
      adminToken,
      assets,
      directory,
      scraper,
      sessions: new SessionLookup({ db: data.db, kv: data.kv, isAlive: (id) => directory.isAlive(id) }),
      drain: (instanceId, draining) => host.yellow.drain(instanceId, draining),
      logger: host.logger,
    });
    const url = advertise(await server.start(), cfg.host);
    host.onStop(() => server.stop());
    await host.register({ endpoints: { http: url } });
    host.logger.info({ url, metrics: host.metricsUrl }, 'console started');
    return { role: 'console', ready: host.readyFields({ url }), stop: () => host.stop() };
  });
}
