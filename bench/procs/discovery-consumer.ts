// One consumer for the discovery bench (what a broker does): watches the table, nothing else.
// Prints its ZeroMQ byte counts every 250 ms and how many instances it sees. Code from CODE_ROOT.
import { join } from 'node:path';
import { silentLogger } from '../../shared/log';
import type { YellowClient as YellowClientType } from '../../yellow/client';
import { countZmqBytes } from '../lib/zmq-bytes';

async function main(): Promise<void> {
  countZmqBytes();
  const root = process.env.CODE_ROOT ?? join(__dirname, '..', '..');
  const { YellowClient } = (await import(join(root, 'yellow', 'client'))) as { YellowClient: typeof YellowClientType };
  const heartbeatMs = Number(process.env.HEARTBEAT_MS ?? 1000);
  const c = new YellowClient({ endpoints: [String(process.env.ROUTER)], heartbeatMs, logger: silentLogger() });
  const dir = await c.watch();
  setInterval(() => process.stdout.write(`${JSON.stringify({ size: dir.size })}\n`), 250).unref();
  process.stdout.write(`${JSON.stringify({ ready: 'consumer' })}\n`);
  process.once('SIGTERM', () => process.exit(0));
}

void main();
