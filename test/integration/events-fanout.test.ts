// Events between services on real processes: two subscribing services (`ev-a`, `ev-b`), two
// instances of each (`test/support/outbox-proc.ts`, the real service role), on real Postgres (a
// throwaway schema shared with the children). Events published once reach each subscribing
// service exactly once — not once per instance — and a key's events arrive in publishing order.
// A service that does not subscribe gets nothing; an event nobody subscribes to is owed to nobody.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { loadConfig, type Config } from '../../shared/config';
import { openDb } from '../../shared/data/db';
import { migrate } from '../../shared/data/migrate';
import { PgDb } from '../../shared/data/pg';
import type { Db } from '../../shared/data/sql';
import { silentLogger } from '../../shared/log';
import { DuelRecord } from '../../shared/protocol';
import { defineEvent } from '../../rpc/api';
import { YellowServer } from '../../yellow/server';
import { cleanEnv } from '../support/cli-proc';
import { killAllProcesses, TestProcess } from '../support/process';
import { TEST_PG_URL } from '../support/services';
import { subscriberModule, tickEvent } from '../support/outbox-fixture';
import { until } from '../support/wait';

const HEARTBEAT_MS = 200;
const EVENTS = 200;
const KEYS = 5;
const SUBSCRIBERS = ['ev-a', 'ev-b'];
const schema = `t_events_${process.pid}_${randomBytes(3).toString('hex')}`;
const logger = silentLogger();
let db: Db;
let yellow: YellowServer;
let cfg: Config;
const procs: TestProcess[] = [];

function startSubscriber(role: string): Promise<Record<string, unknown>> {
  const env = cleanEnv({
    NOON_TEST_OUTBOX_ROLE: role,
    NOON_YELLOW: cfg.yellow.join(','),
    NOON_HEARTBEAT_MS: String(HEARTBEAT_MS),
    NOON_PG_URL: TEST_PG_URL,
    NOON_TEST_PG_SCHEMA: schema,
    NOON_LOG_LEVEL: 'warn',
    NOON_JOB_POLL_MS: '20',
    NOON_JOB_CONCURRENCY: '4',
  });
  const proc = new TestProcess(['--import', 'tsx', 'test/support/outbox-proc.ts'], env, role);
  procs.push(proc);
  return proc.ready(60_000, role);
}

async function count(sql: string, params: unknown[] = []): Promise<number> {
  const r = await db.query<{ n: string }>(sql, params);
  return Number(r.rows[0]?.n ?? 0);
}

before(async () => {
  db = await openDb({ pgUrl: TEST_PG_URL, schema, logger });
  yellow = new YellowServer({ host: '127.0.0.1', port: 0, heartbeatMs: HEARTBEAT_MS, logger });
  const { router } = await yellow.start();
  cfg = loadConfig({ yellow: [router], heartbeatMs: HEARTBEAT_MS, logLevel: 'silent' }, {});
  const mod = subscriberModule('ev-a');
  await migrate(db, mod.role, mod.migrations);
});

after(async () => {
  killAllProcesses();
  await yellow?.stop();
  if (db instanceof PgDb) await db.dropSchema().catch(() => undefined);
  await db?.close();
});

test('an event published once reaches each subscribing service once, with two instances of each; per key in order', async () => {
  const ready = await Promise.all(SUBSCRIBERS.flatMap((role) => [startSubscriber(role), startSubscriber(role)]));
  assert.equal(new Set(ready.map((r) => r.instanceId)).size, 4);
  // Subscriptions are recorded before an instance says it is ready.
  assert.equal(await count("SELECT count(*) AS n FROM noon_event_subscriptions WHERE event = 'test.tick'"), 2);

  // Published in the publisher's transactions, beside its state; keys interleaved.
  await db.query('CREATE TABLE IF NOT EXISTS ticks (n integer PRIMARY KEY)');
  for (let from = 0; from < EVENTS; from += 20)
    await db.tx(async (q) => {
      for (let n = from; n < from + 20; n++) {
        await q.query('INSERT INTO ticks (n) VALUES ($1)', [n]);
        const owed = await tickEvent.publish(q, new DuelRecord({ duelId: `e${n}`, endedAtMs: n }), {
          key: `k${n % KEYS}`,
        });
        assert.equal(owed, SUBSCRIBERS.length, 'one delivery per subscribing service');
      }
    });
  const nobody = defineEvent('test.unheard', DuelRecord);
  assert.equal(await nobody.publish(db, new DuelRecord({ duelId: 'x' })), 0);

  await until(
    'every delivery ran',
    async () => (await count('SELECT count(*) AS n FROM noon_jobs')) === 0,
    120_000,
    50,
  );
  for (const role of SUBSCRIBERS) {
    const rows = await db.query<{ name: string; order_key: string; n: string; instance: string }>(
      'SELECT name, order_key, n, instance FROM event_effects WHERE consumer = $1 ORDER BY seq',
      [role],
    );
    assert.equal(rows.rows.length, EVENTS, `${role} received each event once, not once per instance`);
    assert.equal(new Set(rows.rows.map((r) => r.name)).size, EVENTS, `${role}: no event twice`);
    for (let k = 0; k < KEYS; k++) {
      const seen = rows.rows.filter((r) => r.order_key === `k${k}`).map((r) => Number(r.n));
      const expected = Array.from({ length: EVENTS / KEYS }, (_, i) => i * KEYS + k);
      assert.deepEqual(seen, expected, `${role}: key k${k} in publishing order`);
    }
    const instances = new Set(rows.rows.map((r) => r.instance));
    console.log(`# ${role}: ${rows.rows.length} events received, run by ${instances.size} instance(s)`);
  }
  assert.equal(await count('SELECT count(*) AS n FROM noon_jobs_dead'), 0);
  await Promise.all(procs.map((p) => p.stop()));
});
