/**
 * Concurrent money on both embedded PGlite and real Postgres: the same scenario
 * (fixtures/svc-player-money.ts) through two player instances over ZeroMQ.
 * Real Postgres is required: without it this test fails, it does not skip.
 */
import { test } from 'node:test';
import { randomBytes } from 'node:crypto';
import { openDb } from '../shared/data/db';
import { PgDb } from '../shared/data/pg';
import { silentLogger } from '../shared/log';
import { moneyScenario } from './fixtures/svc-player-money';

const PG_URL = process.env.NOON_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

test('money on PGlite: 230 concurrent buys/spends with duplicated keys, exact balances, ledger = balance', async (t) => {
  const db = await openDb({ logger: silentLogger() });
  try {
    const r = await moneyScenario(db);
    t.diagnostic(`pglite: ${r.calls} concurrent calls in ${r.ms} ms`);
  } finally {
    await db.close();
  }
});

test('money on Postgres: the same scenario in a throwaway schema', async (t) => {
  const schema = `t_player_money_${process.pid}_${randomBytes(3).toString('hex')}`;
  const db = await openDb({ pgUrl: PG_URL, schema, logger: silentLogger() });
  try {
    const r = await moneyScenario(db);
    t.diagnostic(`postgres: ${r.calls} concurrent calls in ${r.ms} ms`);
  } finally {
    if (db instanceof PgDb) await db.dropSchema();
    await db.close();
  }
});
