/**
 * `noon start yellow`: composes a YellowServer from config and prints one ready line on stdout,
 * `{"ready":"yellow","router":"tcp://...","pub":"tcp://..."}`, which tests and `noon up` wait for.
 * SIGTERM/SIGINT stop it and exit 0.
 */
import { curveOf, type Config } from '../shared/config';
import type { Logger } from '../shared/log';
import { YellowServer } from './server';

export async function runYellow(cfg: Config, logger: Logger): Promise<YellowServer> {
  const curve = curveOf(cfg);
  const server = new YellowServer({ host: cfg.host, port: cfg.yellowPort, heartbeatMs: cfg.heartbeatMs, logger, ...(curve ? { curve } : {}) });
  const endpoints = await server.start();
  process.stdout.write(`${JSON.stringify({ ready: 'yellow', router: endpoints.router, pub: endpoints.pub })}\n`);
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'yellow stopping');
    server.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'yellow stop failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  return server;
}
