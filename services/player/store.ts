/**
 * Player SQL. Every function takes a Queryable (the Db or an open transaction) so that a balance
 * change, its ledger row and the idempotency record commit together.
 */
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../../shared/data/sql';
import { ErrorCode, GameError } from '../../shared/protocol';
import { checkEntry, ledgerSource, type LedgerEntry } from './ledger';
import { STARTER_UNITS, STARTER_WALLET } from './rules';

export type CurrencyName = 'soft' | 'hard';

export interface WalletRow {
  soft: number;
  hard: number;
}

export interface ProfileRow extends WalletRow {
  userId: string;
  username: string;
  level: number;
  xp: number;
  rating: number;
}

export interface UnitRow {
  unitId: string;
  kind: string;
  level: number;
  stars: number;
}

/** pg returns bigint as a string, PGlite as a number or bigint: all become exact JS numbers. */
export function num(v: unknown): number {
  const n = typeof v === 'bigint' ? Number(v) : typeof v === 'string' ? Number(v) : typeof v === 'number' ? v : NaN;
  if (!Number.isSafeInteger(n)) throw new Error(`expected a safe integer from the database, got ${String(v)}`);
  return n;
}

interface RawPlayer {
  user_id: string;
  username: string;
  level: unknown;
  xp: unknown;
  soft: unknown;
  hard: unknown;
  rating: unknown;
}

interface RawUnit {
  unit_id: string;
  kind: string;
  level: unknown;
  stars: unknown;
}

const PLAYER_COLS = 'user_id, username, level, xp, soft, hard, rating';
const UNIT_COLS = 'unit_id, kind, level, stars';

function toProfile(r: RawPlayer): ProfileRow {
  return {
    userId: r.user_id,
    username: r.username,
    level: num(r.level),
    xp: num(r.xp),
    soft: num(r.soft),
    hard: num(r.hard),
    rating: num(r.rating),
  };
}

function toUnit(r: RawUnit): UnitRow {
  return { unitId: r.unit_id, kind: r.kind, level: num(r.level), stars: num(r.stars) };
}

export function walletOf(p: WalletRow): WalletRow {
  return { soft: p.soft, hard: p.hard };
}

export async function readProfile(q: Queryable, userId: string): Promise<ProfileRow | undefined> {
  const r = await q.query<RawPlayer>(`SELECT ${PLAYER_COLS} FROM players WHERE user_id = $1`, [userId]);
  const row = r.rows[0];
  return row === undefined ? undefined : toProfile(row);
}

/** Locks the player's row until the transaction ends: every change to one player is serialised. */
export async function lockPlayer(q: Queryable, userId: string): Promise<ProfileRow | undefined> {
  const r = await q.query<RawPlayer>(`SELECT ${PLAYER_COLS} FROM players WHERE user_id = $1 FOR UPDATE`, [userId]);
  const row = r.rows[0];
  return row === undefined ? undefined : toProfile(row);
}

/**
 * Changes one balance of a locked player and writes its ledger row; updates `p` in place.
 * INSUFFICIENT_FUNDS (before any write) when the balance would go negative. The entry's source
 * (`ledgerSource.*`, services/player/ledger.ts) says where the money came from or went to; a
 * credit without a known source kind is a bug and throws before any write.
 */
export async function applyDelta(
  q: Queryable,
  p: ProfileRow,
  currency: CurrencyName,
  delta: number,
  entry: LedgerEntry,
): Promise<void> {
  if (delta === 0) return;
  checkEntry(delta, entry);
  const after = p[currency] + delta;
  if (after < 0) {
    throw new GameError({
      code: ErrorCode.INSUFFICIENT_FUNDS,
      message: `not enough ${currency}: have ${p[currency]}, need ${-delta}`,
      retryable: false,
    });
  }
  // The column is named by a fixed union, never by input.
  await q.query(`UPDATE players SET ${currency} = $2 WHERE user_id = $1`, [p.userId, after]);
  await q.query(
    'INSERT INTO player_ledger (user_id, currency, delta, balance_after, reason, idem_key, source) VALUES ($1, $2, $3, $4, $5, $6, $7)',
    [p.userId, currency, delta, after, entry.reason, entry.key, entry.source],
  );
  p[currency] = after;
}

export async function setProgress(q: Queryable, p: ProfileRow, level: number, xp: number): Promise<void> {
  await q.query('UPDATE players SET level = $2, xp = $3 WHERE user_id = $1', [p.userId, level, xp]);
  p.level = level;
  p.xp = xp;
}

/** Creates the player with the starter wallet and units; false when it already existed. */
export async function createPlayer(q: Queryable, userId: string, username: string): Promise<boolean> {
  const ins = await q.query(
    'INSERT INTO players (user_id, username) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING RETURNING user_id',
    [userId, username],
  );
  if (ins.rows.length === 0) return false;
  const p = await lockPlayer(q, userId);
  if (p === undefined) throw new Error(`player ${userId} vanished inside its creating transaction`);
  const starter = { reason: 'starter', key: 'starter', source: ledgerSource.initial() };
  await applyDelta(q, p, 'soft', STARTER_WALLET.soft, starter);
  await applyDelta(q, p, 'hard', STARTER_WALLET.hard, starter);
  for (const u of STARTER_UNITS) {
    await q.query('INSERT INTO player_units (unit_id, user_id, kind, level, stars) VALUES ($1, $2, $3, $4, $5)', [
      randomUUID(),
      userId,
      u.kind,
      u.level,
      u.stars,
    ]);
  }
  return true;
}

export async function listUnits(q: Queryable, userId: string): Promise<UnitRow[]> {
  const r = await q.query<RawUnit>(`SELECT ${UNIT_COLS} FROM player_units WHERE user_id = $1 ORDER BY seq`, [userId]);
  return r.rows.map(toUnit);
}

/** The caller's unit, locked; undefined when it does not exist or belongs to someone else. */
export async function lockUnit(q: Queryable, userId: string, unitId: string): Promise<UnitRow | undefined> {
  const r = await q.query<RawUnit>(
    `SELECT ${UNIT_COLS} FROM player_units WHERE unit_id = $1 AND user_id = $2 FOR UPDATE`,
    [unitId, userId],
  );
  const row = r.rows[0];
  return row === undefined ? undefined : toUnit(row);
}

export async function updateUnit(q: Queryable, u: UnitRow): Promise<void> {
  await q.query('UPDATE player_units SET level = $2, stars = $3 WHERE unit_id = $1', [u.unitId, u.level, u.stars]);
}

// A purchase's claim of its store transaction (player_purchases) is part of the wallet function
// (wallet-migrations.ts), in the same statement as its credit.
