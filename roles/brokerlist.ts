/** `noon start brokerlist`: the BrokerList HTTP endpoint, built from the Yellow table it watches. */
import type { Config } from '../shared/config';
import { NOON_VERSION } from '../shared/identity';
import type { Logger } from '../shared/log';
import { BrokerListServer, type BrokerListServerOptions } from '../edge/brokerlist/server';
import { RoleHost, type RunningRole } from './host';

export function startBrokerListRole(
  cfg: Config,
  logger: Logger,
  opts: { processMetrics?: boolean; server?: Partial<BrokerListServerOptions> } = {},
): Promise<RunningRole> {
  const metrics = opts.processMetrics === undefined ? {} : { processMetrics: opts.processMetrics };
  return RoleHost.run({ role: 'brokerlist', cfg, logger, ...metrics }, async (host) => {
    // Serves an empty list until a Yellow answers.
    const directory = await host.directory();
    const server = new BrokerListServer({
      directory,
      host: cfg.host,
      port: cfg.brokerlistPort,
      logger: host.logger,
      version: NOON_VERSION,
      corsOrigins: cfg.corsOrigins,
      ...opts.server,
    });
    const url = await server.start();
    host.onStop(() => server.stop());
    await host.register({ endpoints: { http: url } });
    host.logger.info({ url, metrics: host.metricsUrl }, 'brokerlist started');
    return { role: 'brokerlist', ready: host.readyFields({ url }), stop: () => host.stop() };
  });
}
