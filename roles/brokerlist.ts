/**
 * `noon start brokerlist`: the BrokerList HTTP endpoint, built from the Yellow table it watches;
 * also HTTPS with a TLS certificate configured (re-read on SIGHUP), and HTTPS only with
 * cfg.plaintext false.
 */
import type { Config } from '../shared/config';
import { NOON_VERSION } from '../shared/identity';
import { advertise, advertiseAll, bindHostOf } from '../shared/endpoints';
import type { Logger } from '../shared/log';
import { BrokerListServer, type BrokerListServerOptions } from '../edge/brokerlist/server';
import { TlsCredentials } from '../edge/tls';
import { RoleHost, type RunningRole } from './host';

export function startBrokerListRole(
  cfg: Config,
  logger: Logger,
  opts: { processMetrics?: boolean; server?: Partial<BrokerListServerOptions> } = {},
): Promise<RunningRole> {
  const metrics = opts.processMetrics === undefined ? {} : { processMetrics: opts.processMetrics };
  return RoleHost.run({ role: 'brokerlist', cfg, logger, ...metrics }, async (host) => {
    const tls = TlsCredentials.fromConfig(cfg, host.logger);
    if (tls) host.onStop(tls.reloadOnSighup());
    // Serves an empty list until a Yellow answers.
    const directory = await host.directory();
    const server = new BrokerListServer({
      directory,
      host: bindHostOf(cfg),
      port: cfg.brokerlistPort,
      logger: host.logger,
      version: NOON_VERSION,
      corsOrigins: cfg.corsOrigins,
      plaintext: cfg.plaintext,
      httpsPort: cfg.brokerlistHttpsPort,
      ...(tls ? { tls } : {}),
      ...opts.server,
    });
    const url = advertise(await server.start(), cfg.host);
    host.onStop(() => server.stop());
    const endpoints = advertiseAll(server.endpoints, cfg.host);
    await host.register({ endpoints });
    host.logger.info({ url, ...endpoints, metrics: host.metricsUrl }, 'brokerlist started');
    // url: the HTTP URL, or the HTTPS one when plaintext is off; https: the HTTPS URL, if any
    return {
      role: 'brokerlist',
      ready: host.readyFields({ url, ...(endpoints.https ? { https: endpoints.https } : {}) }),
      stop: () => host.stop(),
    };
  });
}
