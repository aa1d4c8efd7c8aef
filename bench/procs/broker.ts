// One broker as its own process for bench/broker.ts: config from NOON_* env vars (the bench
// raises the per-connection rate and in-flight limits), one ready line, exits on SIGTERM.
import { startBrokerRole } from '../../roles/broker';
import { loadConfig } from '../../shared/config';
import { createLogger } from '../../shared/log';

const cfg = loadConfig({ logLevel: process.env.NOON_LOG_LEVEL ?? 'warn' });
const logger = createLogger({ role: 'broker', instanceId: `broker-${process.pid}`, level: cfg.logLevel });
void startBrokerRole(cfg, logger).then((broker) => {
  process.stdout.write(`${JSON.stringify({ ready: 'broker', ...broker.ready })}\n`);
  const stop = (): void => {
    setTimeout(() => process.exit(0), 1500).unref();
    void broker.stop().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
});
