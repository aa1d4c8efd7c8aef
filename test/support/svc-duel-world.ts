/**
 * Duel money tests' world: real player and leaderboard services and duel instances with fast
 * settlement timers, a pretend broker routing sessions as the real one does, funded players,
 * and the SQL checks of where every coin of a duel went.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Db } from '../../shared/data/sql';
import { DuelAction, DuelActRequest, GrantRequest, MatchStatus, type DuelState } from '../../shared/protocol';
import type { DuelOptions } from '../../services/duel/service';
import { readSettlement, type Settlement } from '../../services/duel/settlements';
import type { BrokerSession, TestBroker } from './svc-duel-broker';
import { i64 } from './svc-lb-util';
import { until } from './wait';
import type { ServiceClients } from '../../rpc/clients';

/** Settlement timers for tests: a pass every 100 ms, retries capped at half a second. */
export const FAST_SETTLE: Partial<DuelOptions> = {
  settleIntervalMs: 100,
  settleBackoffMs: 50,
  settleMaxBackoffMs: 500,
  settleLeaseMs: 5000,
};

/** A unique prefix per run, so user ids never meet an earlier run's. */
export const RUN = randomBytes(3).toString('hex');

/** Creates the player (1,000 soft starter) and grants it `extra` soft more. */
export async function newPlayer(
  admin: { clients: ServiceClients },
  broker: TestBroker,
  name: string,
  extra = 0,
): Promise<BrokerSession> {
  const userId = `${name}-${RUN}-${randomBytes(2).toString('hex')}`;
  await admin.clients.player.createProfile(userId, name);
  if (extra > 0)
    await admin.clients.player.grant(
      new GrantRequest({ idempotencyKey: `fund-${userId}`, userId, soft: extra, hard: 0, reason: 'test-funds' }),
    );
  return broker.session(userId);
}

/** Soft balances straight from Postgres. */
export async function softOf(db: Db, userIds: readonly string[]): Promise<Map<string, number>> {
  const r = await db.query<{ user_id: string; soft: string }>(
    'SELECT user_id, soft::text AS soft FROM players WHERE user_id = ANY($1)',
    [[...userIds]],
  );
  return new Map(r.rows.map((x) => [x.user_id, Number(x.soft)]));
}

export const act = (s: BrokerSession, duelId: string, action: DuelAction): Promise<DuelState> =>
  s.routed('duel').duel.act(new DuelActRequest({ duelId, action }));

/** a queues, b pairs with a; both stakes are in escrow when this returns. */
export async function match(a: BrokerSession, b: BrokerSession, stake: number): Promise<string> {
  const first = await a.routed('duel').duel.findMatch(i64(stake));
  assert.equal(first.status, MatchStatus.QUEUED);
  const second = await b.routed('duel').duel.findMatch(i64(stake));
  assert.equal(second.status, MatchStatus.MATCHED);
  assert.equal(second.opponent, a.userId);
  const duelId = second.duelId ?? '';
  await until(`${a.userId} gets matchFound`, () =>
    a.pushes.some((p) => p.method === 'matchFound' && p.ticket.duelId === duelId),
  );
  return duelId;
}

/** winner draws, loser draws, winner shoots: the reply comes once the result is durable. */
export async function play(winner: BrokerSession, loser: BrokerSession, duelId: string): Promise<DuelState> {
  await act(winner, duelId, DuelAction.DRAW);
  await act(loser, duelId, DuelAction.DRAW);
  return act(winner, duelId, DuelAction.SHOOT);
}

/** Waits until the duel's settlement row is done. */
export function settled(db: Db, duelId: string, deadlineMs = 10_000): Promise<Settlement> {
  return until(
    `settlement of ${duelId} done`,
    async () => {
      const s = await readSettlement(db, duelId);
      return s?.state === 'done' ? s : undefined;
    },
    deadlineMs,
    20,
  );
}

export interface LedgerRow {
  user_id: string;
  delta: string;
  idem_key: string;
}

/** The ledger rows of one duel (keys `duel:<id>:stake|payout|refund`). */
export async function duelLedger(db: Db, duelId: string): Promise<LedgerRow[]> {
  const r = await db.query<LedgerRow>(
    `SELECT user_id, delta::text AS delta, idem_key FROM player_ledger
      WHERE idem_key LIKE 'duel:%' AND split_part(idem_key, ':', 2) = $1 ORDER BY id`,
    [duelId],
  );
  return r.rows;
}

export async function escrowRows(
  db: Db,
  duelId: string,
): Promise<Array<{ user_id: string; amount: string; state: string }>> {
  const r = await db.query<{ user_id: string; amount: string; state: string }>(
    'SELECT user_id, amount::text AS amount, state FROM player_escrow WHERE duel_id = $1 ORDER BY user_id',
    [duelId],
  );
  return r.rows;
}

/**
 * "Duels put into wallets exactly what they took out": over every finished (settled) duel, the
 * sum of its ledger deltas is 0; over the whole ledger, duel deltas plus what escrow still holds
 * is 0; and no settled duel still holds money. Returns how many settled duels were checked.
 */
export async function checkDuelsBalance(db: Db): Promise<number> {
  const perDuel = await db.query<{ duel_id: string; net: string }>(
    `SELECT s.duel_id, COALESCE(sum(l.delta), 0)::text AS net
       FROM duel_settlements s
       LEFT JOIN player_ledger l ON l.idem_key LIKE 'duel:%' AND split_part(l.idem_key, ':', 2) = s.duel_id
      WHERE s.state = 'done'
      GROUP BY s.duel_id
     HAVING COALESCE(sum(l.delta), 0) <> 0`,
  );
  assert.deepEqual(perDuel.rows, [], 'every settled duel put back exactly what it took');
  const total = await db.query<{ ledger: string; held: string; settled: string }>(
    `SELECT (SELECT COALESCE(sum(delta), 0) FROM player_ledger WHERE idem_key LIKE 'duel:%')::text AS ledger,
            (SELECT COALESCE(sum(amount), 0) FROM player_escrow WHERE state = 'held')::text AS held,
            (SELECT count(*) FROM duel_settlements WHERE state = 'done')::text AS settled`,
  );
  const t = total.rows[0];
  assert.ok(t);
  assert.equal(Number(t.ledger) + Number(t.held), 0, 'duel ledger rows + money held in escrow = 0');
  const stillHeld = await db.query(
    `SELECT e.duel_id FROM player_escrow e JOIN duel_settlements s ON s.duel_id = e.duel_id
      WHERE s.state = 'done' AND e.state = 'held'`,
  );
  assert.deepEqual(stillHeld.rows, [], 'no settled duel still holds a stake');
  const mismatched = await db.query(
    `SELECT p.user_id FROM players p
      WHERE p.soft <> COALESCE((SELECT sum(delta) FROM player_ledger l WHERE l.user_id = p.user_id AND l.currency = 'soft'), 0)`,
  );
  assert.deepEqual(mismatched.rows, [], 'every soft balance is the sum of its ledger rows');
  return Number(t.settled);
}
