// A worker (NOON_TEST_OUTBOX_ROLE=worker) or an event subscriber service (its role) as its own
// process, for tests that SIGKILL it: the real role composition (roles/worker.ts,
// roles/service.ts) on the fixture modules, config from NOON_* env vars, the Postgres schema from
// NOON_TEST_PG_SCHEMA; the ready line on stdout.
import { loadConfig } from '../../shared/config';
import { createLogger } from '../../shared/log';
import { openDb } from '../../shared/data/db';
import { MemoryKv } from '../../shared/data/memory-kv';
import { startServiceRole } from '../../roles/service';
import { startWorkerRole } from '../../roles/worker';
import type { RunningRole } from '../../roles/host';
import { jobFixtureModule, subscriberModule } from './outbox-fixture';

async function main(): Promise<void> {
  const role = process.env.NOON_TEST_OUTBOX_ROLE ?? '';
  const cfg = loadConfig({ logLevel: process.env.NOON_LOG_LEVEL ?? 'warn', metricsPort: 0 });
  const logger = createLogger({ role, instanceId: `${role}-${process.pid}`, level: cfg.logLevel });
  const schema = process.env.NOON_TEST_PG_SCHEMA;
  if (cfg.pgUrl === undefined) throw new Error('NOON_PG_URL is required');
  const db = await openDb({ pgUrl: cfg.pgUrl, logger, ...(schema !== undefined ? { schema } : {}) });
  const data = { db, kv: new MemoryKv() };
  let running: RunningRole;
  if (role === 'worker') running = await startWorkerRole([jobFixtureModule], cfg, logger, data);
  else if (role !== '') running = await startServiceRole(subscriberModule(role), cfg, logger, data);
  else throw new Error('NOON_TEST_OUTBOX_ROLE is required');
  process.stdout.write(`${JSON.stringify({ ready: role, ...running.ready })}\n`);
  const stop = (): void =>
    void running
      .stop()
      .then(() => db.close())
      .then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`outbox-proc failed: ${String(err)}\n`);
  process.exit(1);
});
