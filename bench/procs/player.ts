// The real player service as its own process for bench/data.ts: real Postgres in the schema
// BENCH_SCHEMA (created here if missing, migrated; the parent drops it) and real Redis with every
// key under BENCH_KEY_PREFIX (the parent deletes them). Yellow, Postgres and Redis come from
// NOON_YELLOW, NOON_PG_URL and NOON_REDIS. Ready line: {"ready":"player","instanceId":...}.
// Stops on SIGTERM: service, then Db and Kv.
import { loadConfig } from '../../shared/config';
import { openDb } from '../../shared/data/db';
import { migrate } from '../../shared/data/migrate';
import { openKv } from '../../shared/data/store';
import { createLogger } from '../../shared/log';
import { startService } from '../../roles/service';
import { playerModule } from '../../services/player/module';

async function main(): Promise<void> {
  const cfg = loadConfig({ logLevel: process.env.NOON_LOG_LEVEL ?? 'warn' });
  const schema = process.env.BENCH_SCHEMA;
  const keyPrefix = process.env.BENCH_KEY_PREFIX;
  if (cfg.pgUrl === undefined || cfg.redis.length === 0 || !schema || !keyPrefix) {
    throw new Error('NOON_PG_URL, NOON_REDIS, BENCH_SCHEMA and BENCH_KEY_PREFIX are required');
  }
  const logger = createLogger({ role: 'player', instanceId: `player-${process.pid}`, level: cfg.logLevel });
  const db = await openDb({ pgUrl: cfg.pgUrl, schema, logger });
  const kv = await openKv({ redis: cfg.redis, keyPrefix, logger });
  await migrate(db, playerModule.role, playerModule.migrations);
  const svc = await startService(playerModule.role, (env) => playerModule.build(env, { db, kv }), { cfg, logger });
  process.stdout.write(`${JSON.stringify({ ready: 'player', instanceId: svc.env.instanceId, ...svc.endpoints })}\n`);
  const stop = (): void => {
    setTimeout(() => process.exit(0), 2000).unref();
    void svc
      .stop()
      .then(() => Promise.all([db.close(), kv.close()]))
      .finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
