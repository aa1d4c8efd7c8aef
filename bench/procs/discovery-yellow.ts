// A Yellow server for the discovery bench, from the code under CODE_ROOT (this checkout, or a
// base commit's extracted sources): heartbeat 1000 ms, ephemeral port, ready line with its router.
import { join } from 'node:path';
import { silentLogger } from '../../shared/log';
import type { YellowServer as YellowServerType } from '../../yellow/server';
import { countZmqBytes } from '../lib/zmq-bytes';

async function main(): Promise<void> {
  countZmqBytes();
  const root = process.env.CODE_ROOT ?? join(__dirname, '..', '..');
  const { YellowServer } = (await import(join(root, 'yellow', 'server'))) as { YellowServer: typeof YellowServerType };
  const heartbeatMs = Number(process.env.HEARTBEAT_MS ?? 1000);
  const server = new YellowServer({ host: '127.0.0.1', port: 0, heartbeatMs, logger: silentLogger() });
  const { router } = await server.start();
  process.stdout.write(`${JSON.stringify({ ready: 'yellow', router })}\n`);
  process.once('SIGTERM', () => void server.stop().then(() => process.exit(0)));
}

void main();
