/** `noon start brokerlist`: the BrokerList HTTP endpoint, built from the Yellow table it watches. */
import type { Config } from '../shared/config';
import { NOON_VERSION } from '../shared/identity';
import type { Logger } from '../shared/log';
import { BrokerListServer, type BrokerListServerOptions } from '../edge/brokerlist/server';
import { RoleHost, type RunningRole } from './host';

export async function startBrokerListRole(
  cfg: Config,
  logger: Logger,
  opts: { processMetrics?: boolean; server?: Partial<BrokerListServerOptions> } = {},
): Promise<RunningRole> {
  const host = await RoleHost.open({
    role: 'brokerlist',
    cfg,
    logger,
    ...(opts.processMetrics === undefined ? {} : { processMetrics: opts.processMetrics }),
  });
  // Serves an empty list until a Yellow answers.
  const directory = await host.directory();
  const server = new BrokerListServer({
    directory,
    host: cfg.host,
    port: cfg.brokerlistPort,
    logger: host.logger,
    version: NOON_VERSION,
    ...opts.server,
  });
  const url = await server.start().catch(async (err: unknown) => {
    await host.stop();
    throw err;
  });
  host.onStop(() => server.stop());
  await host.register({ endpoints: { http: url } });
  host.logger.info({ url, metrics: host.metricsUrl }, 'brokerlist started');
  return {
    role: 'brokerlist',
    ready: { instanceId: host.instanceId, url, metrics: host.metricsUrl, pid: process.pid },
    stop: () => host.stop(),
  };
}
