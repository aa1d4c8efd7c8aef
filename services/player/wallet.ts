/** Profile creation, reads, and the money calls: buy (per receipt), spend, grant (per key). */
import type { Player } from '../../shared/protocol';
import {
  ErrorCode,
  GameError,
  type BuyRequest,
  type GrantRequest,
  type Profile,
  type SpendRequest,
  type Wallet,
} from '../../shared/protocol';
import type { CallContext, WithContext } from '../../rpc/api';
import { afterWrite, cachedProfile, type PlayerCore } from './core';
import { amountIn, badRequest, callerOf, currencyOf, keyOf, reasonOf, toProfile, toWallet } from './convert';
import { once } from './idempotency';
import { MAX_AMOUNT, MAX_PURCHASE } from './rules';
import { applyDelta, claimReceipt, createPlayer, readProfile, walletOf, type WalletRow } from './store';

type Handlers = Pick<
  Player.IHandler,
  'getProfile' | 'getWallet' | 'buyCurrency' | 'spendCurrency' | 'grant' | 'createProfile'
>;

const USERNAME_MAX = 64;

async function createProfile(core: PlayerCore, userId: string, username: string, ctx: CallContext): Promise<Profile> {
  if (userId.length === 0 || userId.length > 128) throw badRequest('userId must be 1..128 characters');
  if (username.length === 0 || username.length > USERNAME_MAX)
    throw badRequest(`username must be 1..${USERNAME_MAX} characters`);
  const created = await core.db.tx((q) => createPlayer(q, userId, username));
  if (created) await afterWrite(core, ctx, userId, { applied: true, units: true });
  const p = await readProfile(core.db, userId);
  if (p === undefined)
    throw new GameError({ code: ErrorCode.INTERNAL, message: 'profile missing after create', retryable: true });
  return toProfile(p);
}

async function buy(core: PlayerCore, req: BuyRequest, ctx: CallContext): Promise<Wallet> {
  const userId = callerOf(ctx.userId);
  const receiptId = keyOf(req.receiptId, 'receiptId');
  const currency = currencyOf(req.currency);
  const amount = amountIn(req.amount, 1, MAX_PURCHASE, 'amount');
  const key = `receipt:${receiptId}`;
  const spec = { userId, key, op: 'buy', fingerprint: JSON.stringify([currency, amount]) };
  const r = await once<WalletRow>(core.db, spec, async (q, p) => {
    if (!(await claimReceipt(q, receiptId, userId))) {
      throw new GameError({
        code: ErrorCode.CONFLICT,
        message: 'receipt was already redeemed by another account',
        retryable: false,
      });
    }
    await applyDelta(q, p, currency, amount, 'purchase', key);
    return walletOf(p);
  });
  await afterWrite(core, ctx, userId, { wallet: r.value, applied: r.applied });
  return toWallet(r.value);
}

async function spend(core: PlayerCore, req: SpendRequest, ctx: CallContext): Promise<Wallet> {
  const userId = callerOf(ctx.userId);
  const key = `c:${keyOf(req.idempotencyKey)}`;
  const currency = currencyOf(req.currency);
  const amount = amountIn(req.amount, 1, MAX_AMOUNT, 'amount');
  const reason = reasonOf(req.reason, 'spend');
  const spec = { userId, key, op: 'spend', fingerprint: JSON.stringify([currency, amount, reason]) };
  const r = await once<WalletRow>(core.db, spec, async (q, p) => {
    await applyDelta(q, p, currency, -amount, reason, key);
    return walletOf(p);
  });
  await afterWrite(core, ctx, userId, { wallet: r.value, applied: r.applied });
  return toWallet(r.value);
}

/** Internal (duel prizes). Keys live in their own scope, so a client key can never pre-empt one. */
async function grant(core: PlayerCore, req: GrantRequest, ctx: CallContext): Promise<Wallet> {
  const userId = keyOf(req.userId, 'userId');
  const key = `g:${keyOf(req.idempotencyKey)}`;
  const soft = req.soft === undefined ? 0 : amountIn(req.soft, 0, MAX_AMOUNT, 'soft');
  const hard = req.hard === undefined ? 0 : amountIn(req.hard, 0, MAX_AMOUNT, 'hard');
  if (soft + hard === 0) throw badRequest('a grant needs a positive soft or hard amount');
  const reason = reasonOf(req.reason, 'grant');
  const spec = { userId, key, op: 'grant', fingerprint: JSON.stringify([soft, hard, reason]) };
  const r = await once<WalletRow>(core.db, spec, async (q, p) => {
    await applyDelta(q, p, 'soft', soft, reason, key);
    await applyDelta(q, p, 'hard', hard, reason, key);
    return walletOf(p);
  });
  // No walletChanged push: the call carries the granting service's session, not the winner's.
  await afterWrite(core, ctx, userId, { applied: r.applied });
  return toWallet(r.value);
}

export function walletHandlers(core: PlayerCore): WithContext<Handlers> {
  return {
    getProfile: async (ctx) => toProfile(await cachedProfile(core, callerOf(ctx.userId))),
    getWallet: async (ctx) => toWallet(await cachedProfile(core, callerOf(ctx.userId))),
    buyCurrency: (req, ctx) => buy(core, req, ctx),
    spendCurrency: (req, ctx) => spend(core, req, ctx),
    grant: (req, ctx) => grant(core, req, ctx),
    createProfile: (userId, username, ctx) => createProfile(core, userId, username, ctx),
  };
}
