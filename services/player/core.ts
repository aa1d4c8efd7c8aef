/**
 * What the player handlers share: the Db (truth), the profile cache, the service env (pushes),
 * and the steps every write ends with.
 */
import type { Cache } from '../../shared/data/cache';
import type { Db } from '../../shared/data/sql';
import { ErrorCode, GameError } from '../../shared/protocol';
import { events } from '../../shared/thrift/events';
import type { CallContext, ServiceEnv } from '../../rpc/api';
import { toWallet } from './convert';
import type { ReceiptVerifier } from './receipts/types';
import type { RoundRule } from './rules';
import { listUnits, readProfile, type ProfileRow, type UnitRow, type WalletRow } from './store';

export interface PlayerCore {
  db: Db;
  cache: Cache;
  env: ServiceEnv;
  /** proves buyCurrency's receipts; absent = purchases are refused (receipts/index.ts) */
  receipts?: ReceiptVerifier;
  /** decides playRound's outcome; absent = the standard rule (rules.ts) */
  roundRule?: RoundRule;
}

const profileKey = (userId: string): string => `player:profile:${userId}`;
const unitsKey = (userId: string): string => `player:units:${userId}`;

function notFound(): GameError {
  return new GameError({ code: ErrorCode.NOT_FOUND, message: 'no player profile for this user', retryable: false });
}

/** Cache-aside: Kv first, else Postgres (also when the Kv is down). */
export function cachedProfile(core: PlayerCore, userId: string): Promise<ProfileRow> {
  return core.cache.getOrLoad(profileKey(userId), async () => {
    const p = await readProfile(core.db, userId);
    if (p === undefined) throw notFound();
    return p;
  });
}

export async function cachedUnits(core: PlayerCore, userId: string): Promise<UnitRow[]> {
  const units = await core.cache.getOrLoad(unitsKey(userId), () => listUnits(core.db, userId));
  // An empty list is either a missing player or (never, today) a player without units.
  if (units.length === 0 && (await readProfile(core.db, userId)) === undefined) throw notFound();
  return units;
}

/**
 * After a committed (or replayed) write: drop the cached copies, then tell the caller's session
 * about its new wallet. Invalidation also runs on a replay, since the first attempt may have
 * committed and died before invalidating. The push goes only to a session of that same user:
 * a grant from the duel service carries the duel's caller, not the winner.
 */
export async function afterWrite(
  core: PlayerCore,
  ctx: CallContext,
  userId: string,
  change: { wallet?: WalletRow; units?: boolean; applied: boolean },
): Promise<void> {
  await core.cache.invalidate(profileKey(userId));
  if (change.units === true) await core.cache.invalidate(unitsKey(userId));
  if (change.applied && change.wallet !== undefined && ctx.sessionId.length > 0 && ctx.userId === userId) {
    core.env.push(ctx.sessionId, events.walletChanged(toWallet(change.wallet)), undefined, ctx.via);
  }
}
