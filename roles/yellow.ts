/**
 * `noon start yellow`: the Yellow server, registered in itself (role 'yellow', its ROUTER, PUB
 * and metrics URL) so operators see it in `noon yellow instances` and `noon top` like any role.
 */
import type { Config } from '../shared/config';
import type { Logger } from '../shared/log';
import { YellowServer } from '../yellow/server';
import { RoleHost, type RunningRole } from './host';

export async function startYellowRole(
  cfg: Config,
  logger: Logger,
  opts: { processMetrics?: boolean } = {},
): Promise<RunningRole> {
  const host = await RoleHost.open({ role: 'yellow', cfg, logger, ...opts });
  const curve = host.curve ? { curve: host.curve } : {};
  const server = new YellowServer({
    host: cfg.host,
    port: cfg.yellowPort,
    heartbeatMs: cfg.heartbeatMs,
    logger: host.logger,
    ...curve,
  });
  const endpoints = await server.start().catch(async (err: unknown) => {
    await host.stop();
    throw err;
  });
  host.onStop(() => server.stop());
  host.useYellow([endpoints.router]);
  await host.register({ endpoints: { router: endpoints.router, pub: endpoints.pub } });
  return {
    role: 'yellow',
    ready: {
      instanceId: host.instanceId,
      router: endpoints.router,
      pub: endpoints.pub,
      metrics: host.metricsUrl,
      pid: process.pid,
    },
    stop: () => host.stop(),
  };
}
