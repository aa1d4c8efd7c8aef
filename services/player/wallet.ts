/** Profile creation, reads, and the money calls: buy (per verified store transaction), spend, grant (per key). */
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
import { ledgerSource, STORES } from './ledger';
import { purchasesNotConfigured, type VerifiedPurchase } from './receipts/types';
import { MAX_AMOUNT, MAX_RECEIPT } from './rules';
import { createPlayer, readProfile } from './store';
import { applyWalletOnce } from './wallet-op';

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

/**
 * A purchase: the verifier proves the store transaction and prices it from the catalog; the credit
 * is keyed by the store's transaction id, so the same receipt (or another receipt of the same
 * transaction) replays the first outcome and never credits twice, and a transaction already
 * redeemed by another account is refused. The request's `currency` and `amount` are ignored:
 * only what the verifier returns is credited. Verification refusals are not recorded (like input
 * errors): nothing trustworthy names the transaction yet.
 */
async function buy(core: PlayerCore, req: BuyRequest, ctx: CallContext): Promise<Wallet> {
  const userId = callerOf(ctx.userId);
  const receipt = req.receiptId ?? '';
  if (receipt.length === 0 || receipt.length > MAX_RECEIPT)
    throw badRequest(`receiptId (the store receipt) must be 1..${MAX_RECEIPT} characters`);
  if (core.receipts === undefined) throw purchasesNotConfigured();
  const t = checkedPurchase(
    await core.receipts.verify(receipt, userId).catch((err: unknown) => {
      if (err instanceof GameError) ctx.log.info({ userId, refusal: err.message }, 'purchase refused');
      throw err;
    }),
  );
  const key = `purchase:${t.store}:${t.transactionId}`;
  // The store signs the product into the transaction; the price is not part of the fingerprint,
  // so a transaction retried after a catalog change replays its first credit.
  const spec = { userId, key, op: 'buy', fingerprint: JSON.stringify([t.productId]) };
  const { store, transactionId, productId, environment } = t;
  const r = await applyWalletOnce(core.db, spec, {
    soft: t.currency === 'soft' ? t.amount : 0,
    hard: t.currency === 'hard' ? t.amount : 0,
    entry: { reason: 'purchase', key, source: ledgerSource.purchase(t.store, t.transactionId) },
    purchase: { store, transactionId, productId, environment },
  });
  if (r.applied)
    ctx.log.info(
      {
        userId,
        store: t.store,
        transactionId: t.transactionId,
        productId: t.productId,
        currency: t.currency,
        amount: t.amount,
      },
      'purchase credited',
    );
  await afterWrite(core, ctx, userId, { wallet: r.value, applied: r.applied });
  return toWallet(r.value);
}

/** What a verifier returned, checked again: a verifier bug must not become a bad credit. */
function checkedPurchase(t: VerifiedPurchase): VerifiedPurchase {
  const ok =
    (STORES as readonly string[]).includes(t.store) &&
    /^[A-Za-z0-9._:-]{1,128}$/.test(t.transactionId) &&
    t.productId.length > 0 &&
    (t.currency === 'soft' || t.currency === 'hard') &&
    Number.isSafeInteger(t.amount) &&
    t.amount >= 1 &&
    t.amount <= MAX_AMOUNT;
  if (!ok) throw new Error(`receipt verifier returned an invalid purchase: ${JSON.stringify(t)}`);
  return t;
}

async function spend(core: PlayerCore, req: SpendRequest, ctx: CallContext): Promise<Wallet> {
  const userId = callerOf(ctx.userId);
  const key = `c:${keyOf(req.idempotencyKey)}`;
  const currency = currencyOf(req.currency);
  const amount = amountIn(req.amount, 1, MAX_AMOUNT, 'amount');
  const reason = reasonOf(req.reason, 'spend');
  const spec = { userId, key, op: 'spend', fingerprint: JSON.stringify([currency, amount, reason]) };
  const r = await applyWalletOnce(core.db, spec, {
    soft: currency === 'soft' ? -amount : 0,
    hard: currency === 'hard' ? -amount : 0,
    entry: { reason, key, source: ledgerSource.spend(reason) },
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
  const r = await applyWalletOnce(core.db, spec, {
    soft,
    hard,
    entry: { reason, key, source: ledgerSource.grant(reason) },
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
