/**
 * `noon start yellow`: the Yellow server, registered in itself (role 'yellow', its ROUTER, PUB
 * and metrics URL) so operators see it in `noon yellow instances` and `noon top` like any role.
 */
import type { Config } from '../shared/config';
import { bindHostOf } from '../shared/endpoints';
import type { Logger } from '../shared/log';
import { YellowServer } from '../yellow/server';
import { RoleHost, type RunningRole } from './host';

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
    host.useYellow([server.localRouter]);
    await host.register({ endpoints });
    return { role: 'yellow', ready: host.readyFields(endpoints), stop: () => host.stop() };
  });
}
