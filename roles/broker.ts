/**
 * `noon start broker`: a Broker on the host's Yellow table and metrics, with the session store
 * given (`noon up`) or opened from cfg.redis (Redis shards, else in-process). With a TLS
 * certificate configured the broker also listens with TLS and wss, and re-reads the certificate
 * on SIGHUP. Drained (by an operator, or by SIGTERM when another broker is live) it moves its
 * clients to the other brokers before it closes.
 */
import type { Config } from '../shared/config';
import type { Kv } from '../shared/data/kv';
import { processDataMetrics } from '../shared/data/data-metrics';
import { openKv } from '../shared/data/store';
import type { Logger } from '../shared/log';
import { Broker, type BrokerEndpoints } from '../broker/broker';
import { TlsCredentials } from '../edge/tls';
import { RoleHost, type RunningRole } from './host';

export interface RunningBroker extends RunningRole {
  broker: Broker;
  endpoints: BrokerEndpoints & { metrics: string };
}

export function startBrokerRole(
  cfg: Config,
  logger: Logger,
  shared?: { kv: Kv },
  opts: { processMetrics?: boolean } = {},
): Promise<RunningBroker> {
  return RoleHost.run({ role: 'broker', cfg, logger, ...opts }, async (host) => {
    // a bad certificate fails the start before anything else is opened
    const tls = TlsCredentials.fromConfig(cfg, host.logger);
    if (tls) host.onStop(tls.reloadOnSighup());
    const kv = shared?.kv ?? (await openKv({ redis: cfg.redis, logger: host.logger, metrics: processDataMetrics }));
    if (!shared) host.onStop(() => kv.close());
    const directory = await host.directory();
    const broker = new Broker({
      cfg,
      logger: host.logger,
      instanceId: host.instanceId,
      metrics: host.metrics,
      directory,
      kv,
      taps: host.taps,
      ...(host.curve ? { curve: host.curve } : {}),
      ...(tls ? { tls } : {}),
      ...(host.tracer ? { tracer: host.tracer } : {}),
    });
    host.onStop(() => broker.stop());
    const endpoints = await broker.start();
    await host.register({ endpoints, load: () => broker.load() });
    // An operator's drain (`noon yellow drain <id>`) hands the clients over; undrain takes new ones again.
    directory.on('change', (r) => {
      if (r.instanceId !== host.instanceId || r.draining === broker.draining) return;
      if (r.draining) void broker.drain('drained by an operator', cfg.drainGraceMs);
      else broker.undrain();
    });
    const otherBrokers = (): number =>
      directory.instances({ role: 'broker' }).filter((r) => r.instanceId !== host.instanceId).length;
    return {
      role: 'broker',
      broker,
      endpoints: { ...endpoints, metrics: host.metricsUrl },
      ready: host.readyFields(endpoints),
      // A clean stop moves the clients to another broker first; the last broker has nowhere to send them.
      stop: async () => {
        if (otherBrokers() > 0 && broker.connections > 0) {
          await host.announceDraining();
          await broker.drain('broker shutting down', cfg.drainGraceMs);
        }
        await host.stop();
      },
    };
  });
}
