/** Input checks and conversions between the generated Thrift structs and the service's rows. */
import type Int64 from 'node-int64';
import { Currency, ErrorCode, GameError, Profile, Unit, Wallet } from '../../shared/protocol';
import type { CurrencyName, ProfileRow, UnitRow, WalletRow } from './store';

/** Longest idempotency key / receipt id / reason accepted (they are stored and indexed). */
export const MAX_KEY = 128;
export const MAX_REASON = 64;

export function badRequest(message: string): GameError {
  return new GameError({ code: ErrorCode.BAD_REQUEST, message, retryable: false });
}

/** An i64 argument as a JS number; values beyond 2^53 become ±Infinity and fail range checks. */
export function i64(x: Int64 | undefined): number {
  return x === undefined ? NaN : x.toNumber(false);
}

export function amountIn(x: Int64 | undefined, min: number, max: number, what: string): number {
  const n = i64(x);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw badRequest(`${what} must be an integer in ${min}..${max}`);
  return n;
}

export function keyOf(key: string | undefined, what = 'idempotencyKey'): string {
  if (key === undefined || key.length === 0 || key.length > MAX_KEY)
    throw badRequest(`${what} must be 1..${MAX_KEY} characters`);
  return key;
}

export function reasonOf(reason: string | undefined, fallback: string): string {
  if (reason === undefined || reason.length === 0) return fallback;
  if (reason.length > MAX_REASON) throw badRequest(`reason must be at most ${MAX_REASON} characters`);
  return reason;
}

export function currencyOf(c: Currency | undefined): CurrencyName {
  if (c === Currency.SOFT) return 'soft';
  if (c === Currency.HARD) return 'hard';
  throw badRequest('currency must be SOFT or HARD');
}

/** Calls that act for "the caller" need a logged-in caller. */
export function callerOf(userId: string): string {
  if (userId.length === 0)
    throw new GameError({ code: ErrorCode.UNAUTHENTICATED, message: 'log in first', retryable: false });
  return userId;
}

export function toWallet(w: WalletRow): Wallet {
  return new Wallet({ soft: w.soft, hard: w.hard });
}

export function toProfile(p: ProfileRow): Profile {
  return new Profile({
    userId: p.userId,
    username: p.username,
    level: p.level,
    xp: p.xp,
    rating: p.rating,
    wallet: toWallet(p),
  });
}

export function toUnit(u: UnitRow): Unit {
  return new Unit({ unitId: u.unitId, kind: u.kind, level: u.level, stars: u.stars });
}
