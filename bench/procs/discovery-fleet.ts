// COUNT simulated service processes for the discovery bench, in one process: each registers a
// service record and heartbeats with an idle service's jittering ELU; the first WATCHERS of them
// (default all) also watch the table, as a service that calls other services does. Code from
// CODE_ROOT.
import { join } from 'node:path';
import { silentLogger } from '../../shared/log';
import type { YellowClient as YellowClientType } from '../../yellow/client';
import type { YellowClient as Client } from '../../yellow/client';

async function main(): Promise<void> {
  const root = process.env.CODE_ROOT ?? join(__dirname, '..', '..');
  const { YellowClient } = (await import(join(root, 'yellow', 'client'))) as { YellowClient: typeof YellowClientType };
  const count = Number(process.env.COUNT ?? 25);
  const watchers = Number(process.env.WATCHERS ?? count);
  const prefix = process.env.PREFIX ?? 'svc';
  const heartbeatMs = Number(process.env.HEARTBEAT_MS ?? 1000);
  const endpoints = [String(process.env.ROUTER)];
  const methods = Array.from({ length: 12 }, (_, i) => `method${i}`);
  const clients: Client[] = [];
  for (let i = 0; i < count; i++) {
    const c = new YellowClient({ endpoints, heartbeatMs, logger: silentLogger(), mainThreadBeats: true });
    clients.push(c);
    // On a loaded machine an acknowledgement may take longer than the client waits; it keeps retrying.
    const registered = c.register({
      role: 'player',
      instanceId: `${prefix}-${i}`,
      host: '127.0.0.1',
      endpoints: { router: `tcp://127.0.0.1:${20000 + i}`, metrics: `http://127.0.0.1:${30000 + i}/metrics` },
      service: {
        thriftService: 'Player',
        methods,
        publicMethods: [],
        idempotentMethods: methods.slice(0, 6),
        internalMethods: [],
        stateful: false,
      },
      version: '0.1.0',
      pid: process.pid,
      startedAt: Date.now(),
      load: { inFlight: 0, elu: 0.2 },
    });
    await registered.catch(() => undefined);
    if (i < watchers) await c.watch();
  }
  // An idle service's ELU moves by a few thousandths every interval.
  setInterval(() => {
    for (const c of clients) c.setLoad({ inFlight: 0, elu: Number((0.2 + Math.random() * 0.01).toFixed(3)) });
  }, heartbeatMs);
  process.stdout.write(`${JSON.stringify({ ready: 'fleet', count })}\n`);
  process.once('SIGTERM', () => process.exit(0));
}

void main();
