/**
 * `noon start brokerlist`: watches Yellow, serves the BrokerList over HTTP on
 * cfg.host:cfg.brokerlistPort, and registers itself in Yellow (role 'brokerlist',
 * endpoints.http) so operators and `noon up` can find it. Composition only; logic is in server.ts.
 */
import { curveOf, type Config } from '../../shared/config';
import type { Logger } from '../../shared/log';
import { NOON_VERSION, newInstanceId } from '../../services/framework/runtime';
import { YellowClient } from '../../yellow/client';
import { BrokerListServer, type BrokerListServerOptions } from './server';

export async function runBrokerList(cfg: Config, logger: Logger, extra: Partial<BrokerListServerOptions> = {}): Promise<{ url: string; stop(): Promise<void> }> {
  const instanceId = newInstanceId('brokerlist');
  const log = logger.child({ role: 'brokerlist', instance: instanceId });
  const curve = curveOf(cfg);
  const yellow = new YellowClient({ endpoints: cfg.yellow, heartbeatMs: cfg.heartbeatMs, logger: log, ...(curve ? { curve } : {}) });
  const directory = await yellow.watch(); // serves an empty list until a Yellow answers
  const server = new BrokerListServer({ directory, host: cfg.host, port: cfg.brokerlistPort, logger: log, version: NOON_VERSION, ...extra });
  const url = await server.start();
  await yellow.register({
    role: 'brokerlist', instanceId, host: cfg.host, endpoints: { http: url }, version: NOON_VERSION,
    pid: process.pid, startedAt: Date.now(), load: { inFlight: 0, elu: 0 },
  }).catch((err: Error) => log.warn({ err: err.message }, 'no Yellow acknowledged the registration yet; retrying in the background'));
  log.info({ url }, 'brokerlist started');
  return {
    url,
    stop: async () => {
      await yellow.deregister().catch(() => undefined);
      await server.stop();
      await yellow.stop();
    },
  };
}
