/**
 * Duel stakes in escrow: internal methods of the player service, called only by the duel service.
 *
 * - `escrowStakes({duelId, userIds: [a, b], amount})` takes `amount` soft from both players in one
 *   transaction, with a ledger row and an escrow row each, or from neither: when either cannot pay
 *   the result is "refused" and names who (`shortOfFunds`), and nothing is written.
 * - `settleEscrow(duelId, winner)` pays the whole escrow (both stakes) to the winner.
 * - `refundEscrow(duelId)` gives each player their own stake back. A duel with no escrow yet is
 *   closed as "void", so an escrow still in flight for it (a call whose reply was lost) is refused
 *   when it lands instead of holding money nobody will ever settle.
 *
 * Each is idempotent by duel id: a repeat answers the escrow's current state and changes nothing,
 * and the ledger's UNIQUE (user, currency, key) backs this up (keys `duel:<id>:stake|payout|refund`).
 * Money moves only between the two wallets and the escrow: a duel pays out exactly what it took.
 * Lock order: the escrow's row, then the players' rows in user id order (no deadlock between two
 * duels of the same players).
 */
import type { Player } from '../../shared/protocol';
import { ErrorCode, EscrowResult, GameError, type EscrowRequest } from '../../shared/protocol';
import type { Queryable } from '../../shared/data/sql';
import type { CallContext, WithContext } from '../../rpc/api';
import { afterWrite, type PlayerCore } from './core';
import { amountIn, badRequest } from './convert';
import { ledgerSource } from './ledger';
import { MAX_AMOUNT } from './rules';
import { applyDelta, lockPlayer, num, walletOf, type ProfileRow, type WalletRow } from './store';

type Handlers = Pick<Player.IHandler, 'escrowStakes' | 'settleEscrow' | 'refundEscrow'>;

/** One stake: at most a spend's bound, so the payout (2 × stake) is exact and far inside BIGINT. */
export const MAX_STAKE = MAX_AMOUNT;
/** What a wallet can hold: balances are exact JS numbers (BIGINT in Postgres holds more). */
export const WALLET_MAX = Number.MAX_SAFE_INTEGER;

const DUEL_ID = /^[A-Za-z0-9_.:-]{1,64}$/;
const USER_MAX = 128;

export type EscrowState = 'held' | 'paid' | 'refunded' | 'void';
type Kind = 'stake' | 'payout' | 'refund';

interface Header {
  duelId: string;
  userIds: string[];
  amount: number;
  state: EscrowState;
  winner: string;
}

interface RawHeader {
  duel_id: string;
  user_ids: string[];
  amount: unknown;
  state: EscrowState;
  winner: string | null;
}

/** What a transaction did: its answer, and the wallets it changed (for the cache and pushes). */
interface Done {
  result: EscrowResult;
  changed: Map<string, WalletRow>;
}

function duelIdOf(id: string | undefined): string {
  if (id === undefined || !DUEL_ID.test(id)) throw badRequest('duelId must be 1..64 characters of [A-Za-z0-9_.:-]');
  return id;
}

function userIdOf(id: string | undefined, what: string): string {
  if (id === undefined || id.length === 0 || id.length > USER_MAX)
    throw badRequest(`${what} must be 1..${USER_MAX} characters`);
  return id;
}

function conflict(message: string): GameError {
  return new GameError({ code: ErrorCode.CONFLICT, message, retryable: false });
}

/** The ledger row of one money movement of a duel; its reason names the duel. */
function entry(duelId: string, kind: Kind): { reason: string; key: string; source: string } {
  return { reason: `duel ${kind} ${duelId}`, key: `duel:${duelId}:${kind}`, source: ledgerSource.duel(kind, duelId) };
}

/** `refused`: someone could not pay (`shortOfFunds`), nothing was written. */
function toResult(h: Header, shortOfFunds: string[] = []): EscrowResult {
  return new EscrowResult({
    duelId: h.duelId,
    state: shortOfFunds.length > 0 ? 'refused' : h.state,
    amount: h.amount,
    userIds: [...h.userIds],
    winner: h.winner,
    shortOfFunds,
  });
}

async function readHeader(q: Queryable, duelId: string): Promise<Header | undefined> {
  const r = await q.query<RawHeader>(
    'SELECT duel_id, user_ids, amount, state, winner FROM player_escrows WHERE duel_id = $1 FOR UPDATE',
    [duelId],
  );
  const row = r.rows[0];
  if (row === undefined) return undefined;
  return {
    duelId: row.duel_id,
    userIds: row.user_ids,
    amount: num(row.amount),
    state: row.state,
    winner: row.winner ?? '',
  };
}

/** Locks the players in user id order; NOT_FOUND when one has no profile. */
async function lockAll(q: Queryable, userIds: readonly string[]): Promise<Map<string, ProfileRow>> {
  const out = new Map<string, ProfileRow>();
  for (const id of [...userIds].sort()) {
    const p = await lockPlayer(q, id);
    if (p === undefined)
      throw new GameError({ code: ErrorCode.NOT_FOUND, message: `no player profile for ${id}`, retryable: false });
    out.set(id, p);
  }
  return out;
}

/** A credit that keeps the balance inside what a wallet holds. */
async function credit(q: Queryable, p: ProfileRow, amount: number, duelId: string, kind: Kind): Promise<void> {
  if (p.soft + amount > WALLET_MAX) throw conflict(`the wallet of ${p.userId} cannot hold ${amount} more soft`);
  await applyDelta(q, p, 'soft', amount, entry(duelId, kind));
}

async function escrowTx(q: Queryable, duelId: string, userIds: [string, string], amount: number): Promise<Done> {
  const replay = (h: Header): Done => {
    if (h.state === 'void') return { result: toResult(h), changed: new Map() };
    const same = h.amount === amount && [...h.userIds].sort().join('\n') === [...userIds].sort().join('\n');
    if (!same) throw conflict(`duel ${duelId} already has an escrow with other players or another amount`);
    return { result: toResult(h), changed: new Map() };
  };
  const prior = await readHeader(q, duelId);
  if (prior !== undefined) return replay(prior);
  const players = await lockAll(q, userIds);
  const short = userIds.filter((id) => (players.get(id)?.soft ?? 0) < amount);
  const header: Header = { duelId, userIds, amount, state: 'held', winner: '' };
  if (short.length > 0) return { result: toResult(header, short), changed: new Map() };
  const ins = await q.query(
    `INSERT INTO player_escrows (duel_id, user_ids, amount, state) VALUES ($1, $2, $3, 'held')
     ON CONFLICT (duel_id) DO NOTHING RETURNING duel_id`,
    [duelId, userIds, amount],
  );
  if (ins.rows.length === 0) {
    // A concurrent call for the same duel committed first (we waited for it): answer what it did.
    const now = await readHeader(q, duelId);
    if (now === undefined) throw new Error(`escrow ${duelId} vanished after a conflicting insert`);
    return replay(now);
  }
  const changed = new Map<string, WalletRow>();
  for (const id of userIds) {
    const p = players.get(id) as ProfileRow;
    await applyDelta(q, p, 'soft', -amount, entry(duelId, 'stake'));
    await q.query("INSERT INTO player_escrow (duel_id, user_id, amount, state) VALUES ($1, $2, $3, 'held')", [
      duelId,
      id,
      amount,
    ]);
    changed.set(id, walletOf(p));
  }
  return { result: toResult(header), changed };
}

async function settleTx(q: Queryable, duelId: string, winner: string): Promise<Done> {
  const h = await readHeader(q, duelId);
  if (h === undefined)
    throw new GameError({ code: ErrorCode.NOT_FOUND, message: `no escrow for duel ${duelId}`, retryable: false });
  if (h.state === 'paid') {
    if (h.winner !== winner) throw conflict(`duel ${duelId} was already paid to ${h.winner}`);
    return { result: toResult(h), changed: new Map() };
  }
  if (h.state !== 'held') throw conflict(`duel ${duelId} escrow is ${h.state}: it cannot be paid`);
  if (!h.userIds.includes(winner)) throw badRequest(`${winner} is not a player of duel ${duelId}`);
  const stakes = await q.query<{ total: unknown }>(
    "SELECT COALESCE(sum(amount), 0) AS total FROM player_escrow WHERE duel_id = $1 AND state = 'held'",
    [duelId],
  );
  const total = num(stakes.rows[0]?.total ?? 0);
  const p = (await lockAll(q, [winner])).get(winner) as ProfileRow;
  await credit(q, p, total, duelId, 'payout');
  await q.query("UPDATE player_escrow SET state = 'paid' WHERE duel_id = $1 AND state = 'held'", [duelId]);
  await q.query("UPDATE player_escrows SET state = 'paid', winner = $2, closed_at = now() WHERE duel_id = $1", [
    duelId,
    winner,
  ]);
  return { result: toResult({ ...h, state: 'paid', winner }), changed: new Map([[winner, walletOf(p)]]) };
}

async function refundTx(q: Queryable, duelId: string): Promise<Done> {
  let h = await readHeader(q, duelId);
  if (h === undefined) {
    await q.query(
      `INSERT INTO player_escrows (duel_id, user_ids, amount, state, closed_at) VALUES ($1, '{}', 0, 'void', now())
       ON CONFLICT (duel_id) DO NOTHING`,
      [duelId],
    );
    // Either our void row, or an escrow that committed while we waited on its key.
    h = await readHeader(q, duelId);
    if (h === undefined) throw new Error(`escrow ${duelId} vanished after its insert`);
  }
  if (h.state === 'refunded' || h.state === 'void') return { result: toResult(h), changed: new Map() };
  if (h.state === 'paid') throw conflict(`duel ${duelId} was already paid to ${h.winner}: it cannot be refunded`);
  const stakes = await q.query<{ user_id: string; amount: unknown }>(
    "SELECT user_id, amount FROM player_escrow WHERE duel_id = $1 AND state = 'held'",
    [duelId],
  );
  const players = await lockAll(
    q,
    stakes.rows.map((s) => s.user_id),
  );
  const changed = new Map<string, WalletRow>();
  for (const s of stakes.rows) {
    const p = players.get(s.user_id) as ProfileRow;
    await credit(q, p, num(s.amount), duelId, 'refund');
    changed.set(s.user_id, walletOf(p));
  }
  await q.query("UPDATE player_escrow SET state = 'refunded' WHERE duel_id = $1 AND state = 'held'", [duelId]);
  await q.query("UPDATE player_escrows SET state = 'refunded', closed_at = now() WHERE duel_id = $1", [duelId]);
  return { result: toResult({ ...h, state: 'refunded' }), changed };
}

/** Runs one escrow transaction, then drops the cached profiles of its players and pushes the caller's wallet. */
async function run(
  core: PlayerCore,
  ctx: CallContext,
  users: readonly string[],
  fn: (q: Queryable) => Promise<Done>,
): Promise<EscrowResult> {
  const done = await core.db.tx(fn);
  for (const id of new Set([...users, ...done.changed.keys()])) {
    const wallet = done.changed.get(id);
    await afterWrite(core, ctx, id, wallet === undefined ? { applied: false } : { wallet, applied: true });
  }
  return done.result;
}

export function escrowHandlers(core: PlayerCore): WithContext<Handlers> {
  return {
    escrowStakes: (req: EscrowRequest, ctx) => {
      const duelId = duelIdOf(req.duelId);
      const ids = req.userIds ?? [];
      if (ids.length !== 2) throw badRequest('userIds must name exactly two players');
      const userIds: [string, string] = [userIdOf(ids[0], 'userIds[0]'), userIdOf(ids[1], 'userIds[1]')];
      if (userIds[0] === userIds[1]) throw badRequest('userIds must be two different players');
      const amount = amountIn(req.amount, 1, MAX_STAKE, 'amount');
      return run(core, ctx, userIds, (q) => escrowTx(q, duelId, userIds, amount));
    },
    settleEscrow: (duelId, winnerUserId, ctx) => {
      const id = duelIdOf(duelId);
      const winner = userIdOf(winnerUserId, 'winnerUserId');
      return run(core, ctx, [winner], (q) => settleTx(q, id, winner));
    },
    refundEscrow: (duelId, ctx) => {
      const id = duelIdOf(duelId);
      return run(core, ctx, [], (q) => refundTx(q, id));
    },
  };
}
