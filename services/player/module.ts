/**
 * The player service: profiles, wallets (with a ledger), units and rounds. Stateless: any
 * instance serves any user; per-player order comes from the row lock in Postgres.
 */
import { Cache } from '../../shared/data/cache';
import { Player, Pong } from '../../shared/protocol';
import type { ServiceDef, ServiceModule } from '../../rpc/api';
import type { PlayerCore } from './core';
import { escrowHandlers } from './escrow';
import { playerMigrations } from './migrations';
import { verifierFromConfig, type ReceiptVerifier } from './receipts';
import { roundHandlers } from './rounds';
import type { RoundRule } from './rules';
import { unitHandlers } from './units';
import { walletHandlers } from './wallet';

export interface PlayerModuleOptions {
  /** Lifetime of a cached profile or unit list, ms. Bounds how long a value written back by a
   * load racing another instance's write can stay stale (see shared/data/cache.ts). */
  cacheTtlMs?: number;
  /** Proves the receipts of buyCurrency. Default: the one the config asks for
   * (NOON_PURCHASE_VERIFIER, services/player/receipts/index.ts); none = purchases refused. */
  receiptVerifier?: ReceiptVerifier;
  /** Decides playRound's outcome (a pure function: retries must agree). Default: the standard
   * rule of rules.ts. A result that is not a valid outcome fails the round (INTERNAL). */
  roundOutcome?: RoundRule;
}

export function createPlayerModule(opts: PlayerModuleOptions = {}): ServiceModule<Player.IHandler> {
  return {
    role: 'player',
    migrations: playerMigrations,
    build(env, { db, kv }): ServiceDef<Player.IHandler> {
      const cache = new Cache(kv, { ttlMs: opts.cacheTtlMs ?? 60_000, logger: env.logger, namespace: 'cache:' });
      const receipts = opts.receiptVerifier ?? verifierFromConfig(env.cfg, env.logger);
      const core: PlayerCore = {
        db,
        cache,
        env,
        ...(receipts ? { receipts } : {}),
        ...(opts.roundOutcome ? { roundRule: opts.roundOutcome } : {}),
      };
      return {
        role: 'player',
        thriftService: 'Player',
        processor: Player.Processor,
        stateful: false,
        publicMethods: ['ping'],
        internalMethods: ['grant', 'createProfile', 'escrowStakes', 'settleEscrow', 'refundEscrow'],
        // a duel's stakes move only at the duel service's word; a profile is made at sign-up
        callerRoles: {
          escrowStakes: ['duel'],
          settleEscrow: ['duel'],
          refundEscrow: ['duel'],
          createProfile: ['sso'],
        },
        // Mutations are keyed (idempotency key / receipt id / user id), so a retry elsewhere is safe.
        idempotentMethods: [
          'getProfile',
          'getWallet',
          'listUnits',
          'ping',
          'buyCurrency',
          'spendCurrency',
          'levelUp',
          'evolve',
          'playRound',
          'grant',
          'createProfile',
          // keyed by duel id
          'escrowStakes',
          'settleEscrow',
          'refundEscrow',
        ],
        handlers: {
          ...walletHandlers(core),
          ...unitHandlers(core),
          ...roundHandlers(core),
          ...escrowHandlers(core),
          ping: () => new Pong({ instance: env.instanceId, serviceName: 'player', serverTimeMs: Date.now() }),
        },
      };
    },
  };
}

export const playerModule = createPlayerModule();
