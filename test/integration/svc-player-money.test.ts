/**
 * Concurrent money on both embedded PGlite and real Postgres: the same scenario
 * (test/support/svc-player-money.ts) through two player instances over ZeroMQ.
 * Real Postgres is required: without it this test fails, it does not skip.
 */
import { test } from 'node:test';
import { randomBytes } from 'node:crypto';
import { openDb } from '../../shared/data/db';
import { PgDb } from '../../shared/data/pg';
import { silentLogger } from '../../shared/log';
import { moneyScenario } from '../support/svc-player-money';
import { TEST_PG_URL } from '../support/services';

const PG_URL = TEST_PG_URL;

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
