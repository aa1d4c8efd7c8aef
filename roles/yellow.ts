/**
 * `noon start yellow`: the Yellow server, registered in itself (role 'yellow', its ROUTER, PUB
 * and metrics URL) so operators see it in `noon yellow instances` and `noon top` like any role.
 */
import { Gauge } from 'prom-client';
import type { Config } from '../shared/config';
import { bindHostOf } from '../shared/endpoints';
import type { Logger } from '../shared/log';
import { scrapeTargets } from '../yellow/scrape-targets';
import { YellowServer } from '../yellow/server';
import { RoleHost, type RunningRole } from './host';

/** Where Yellow's metrics port answers Prometheus HTTP service discovery. */
export const SCRAPE_TARGETS_PATH = '/sd/targets';

export function startYellowRole(
  cfg: Config,
  logger: Logger,
  opts: { processMetrics?: boolean } = {},
): Promise<RunningRole> {
  return RoleHost.run({ role: 'yellow', cfg, logger, ...opts }, async (host) => {
    const { heartbeatMs } = cfg;
    const curve = host.curve ? { curve: host.curve } : {};
    const server = new YellowServer({
      host: bindHostOf(cfg),
      advertiseHost: cfg.host,
      port: cfg.yellowPort,
      pubPort: cfg.yellowPubPort,
      heartbeatMs,
      logger: host.logger,
      ...curve,
    });
    const endpoints = await server.start();
    host.onStop(() => server.stop());
    new Gauge({
      name: 'noon_yellow_instances',
      help: 'instances registered in this Yellow (draining ones included): what every consumer should see',
      registers: [host.metrics.registry],
      collect() {
        this.set(server.instanceCount);
      },
    });
    // Prometheus' http_sd_configs reads every registered /metrics from here
    host.metrics.serveJson(SCRAPE_TARGETS_PATH, () => scrapeTargets(server.instances()));
    host.useYellow([server.localRouter]);
    await host.register({ endpoints });
    return { role: 'yellow', ready: host.readyFields(endpoints), stop: () => host.stop() };
  });
}
