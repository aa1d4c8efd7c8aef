/** `noon brokers`: what the BrokerList tells clients, and where to find the BrokerList. */
import type { Config } from '../shared/config';
import type { Logger } from '../shared/log';
import { fetchBrokers } from '../client/brokerlist';
import { printJson } from './lifecycle';
import { table } from './table';
import { withYellow } from './yellow-ops';

/**
 * The BrokerList URL: `explicit` if given; else the one registered in Yellow (role brokerlist);
 * (its HTTP URL, else its HTTPS one); else http://host:brokerlistPort from the config
 * (https://host:brokerlistHttpsPort when plaintext is off).
 */
export async function brokerListUrl(cfg: Config, logger: Logger, explicit?: string): Promise<string> {
  if (explicit) return explicit;
  const fallback = cfg.plaintext
    ? `http://${cfg.host}:${cfg.brokerlistPort}`
    : `https://${cfg.host}:${cfg.brokerlistHttpsPort}`;
  try {
    const lists = await withYellow(cfg, logger, (y) => y.query({ role: 'brokerlist' }));
    const live = lists.filter((r) => !r.draining);
    return (
      live.find((r) => r.endpoints.http)?.endpoints.http ??
      live.find((r) => r.endpoints.https)?.endpoints.https ??
      fallback
    );
  } catch (err) {
    logger.debug({ err: (err as Error).message }, 'no Yellow answered; using the configured BrokerList port');
    return fallback;
  }
}

export async function runBrokers(cfg: Config, logger: Logger, opts: { url?: string; json: boolean }): Promise<void> {
  const url = await brokerListUrl(cfg, logger, opts.url);
  const brokers = await fetchBrokers(url, { timeoutMs: Math.max(2000, cfg.heartbeatMs * 2) });
  if (opts.json) return printJson({ url, brokers });
  process.stdout.write(`BrokerList ${url}\n`);
  process.stdout.write(
    brokers.length
      ? table(
          ['BROKER', 'TCP', 'WS', 'TLS', 'WSS', 'LOAD'],
          brokers.map((b) => [b.instanceId, b.tcp, b.ws, b.tls, b.wss, b.load]),
        )
      : 'no brokers listed\n',
  );
}
