// A duel service as its own process, for tests that SIGKILL it: config from NOON_* env vars
// (Yellow, heartbeat, log level, NOON_PG_URL), the Postgres schema from NOON_TEST_PG_SCHEMA, duel
// options (shortened timers) as JSON in NOON_TEST_DUEL_OPTIONS; ready line on stdout.
import { loadConfig } from '../../shared/config';
import { createLogger } from '../../shared/log';
import { openDb } from '../../shared/data/db';
import { MemoryKv } from '../../shared/data/memory-kv';
import { migrate } from '../../shared/data/migrate';
import { startService } from '../../roles/service';
import { duelModuleWith, type DuelOptions } from '../../services/duel/service';

async function main(): Promise<void> {
  const cfg = loadConfig({ logLevel: process.env.NOON_LOG_LEVEL ?? 'warn' });
  const logger = createLogger({ role: 'duel', instanceId: `duel-${process.pid}`, level: cfg.logLevel });
  const schema = process.env.NOON_TEST_PG_SCHEMA;
  if (cfg.pgUrl === undefined) throw new Error('NOON_PG_URL is required');
  const db = await openDb({ pgUrl: cfg.pgUrl, logger, ...(schema !== undefined ? { schema } : {}) });
  const opts = JSON.parse(process.env.NOON_TEST_DUEL_OPTIONS ?? '{}') as Partial<DuelOptions>;
  const mod = duelModuleWith(opts);
  await migrate(db, mod.role, mod.migrations);
  const kv = new MemoryKv();
  const svc = await startService('duel', (env) => mod.build(env, { db, kv }), { cfg, logger });
  process.stdout.write(`${JSON.stringify({ ready: 'duel', instanceId: svc.env.instanceId, ...svc.endpoints })}\n`);
  const stop = (): void =>
    void svc
      .stop()
      .then(() => db.close())
      .then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`duel-proc failed: ${String(err)}\n`);
  process.exit(1);
});
