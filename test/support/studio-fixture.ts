/**
 * A studio project's own files, written as a studio would write them, for tests that run a
 * scaffolded project outside the repository: an IDL with two services of its own, the modules
 * serving them (one calls the other through `ctx.services.of`; one calls the built-in player and
 * lets its GameError through), an extended built-in (player, one handler wrapped) and a
 * replaced built-in (leaderboard, the studio's own implementation of its IDL service).
 */

export const GIFTS_THRIFT = `namespace js gifts
include "noon.thrift"

struct Gift {
  1: string note,
  2: i64 soft,
}

service Gifts {
  /** grants 25 soft through Player:grant, once per key, and pushes GiftEvents:gifted */
  Gift give(1: string note, 2: string idempotencyKey) throws (1: noon.GameError err),
  /** spends through Player:spendCurrency and lets its GameError (e.g. INSUFFICIENT_FUNDS) through */
  void splurge(1: i64 soft, 2: string idempotencyKey) throws (1: noon.GameError err),
  /** always refuses with the studio's own GameError BAD_REQUEST */
  void refuse(1: string why) throws (1: noon.GameError err),
}

service GiftEvents {
  oneway void gifted(1: Gift gift),
}

/** A second service of the studio: gives through Gifts, service to service. */
service Relay {
  Gift forward(1: string note, 2: string idempotencyKey) throws (1: noon.GameError err),
}
`;

export const GIFTS_TS = `import Int64 from 'node-int64';
import { protocol, pushMessage, type ServiceModule } from 'noon';
import { GiftEvents, Gifts, Gift } from '../gen/gifts';
import { ErrorCode, GameError } from '../gen/noon';

export const module: ServiceModule<Gifts.IHandler> = {
  role: 'gifts',
  migrations: [],
  build: () => ({
    role: 'gifts',
    thriftService: 'Gifts',
    processor: Gifts.Processor,
    stateful: false,
    idempotentMethods: ['give', 'splurge', 'refuse'],
    handlers: {
      async give(note, idempotencyKey, ctx) {
        if (!idempotencyKey) throw new GameError({ code: ErrorCode.BAD_REQUEST, message: 'idempotencyKey is required' });
        await ctx.services.player.grant(
          new protocol.GrantRequest({
            idempotencyKey: 'gifts:' + idempotencyKey,
            userId: ctx.userId,
            soft: new Int64(25),
            hard: new Int64(0),
            reason: 'gift',
          }),
        );
        const gift = new Gift({ note, soft: new Int64(25) });
        ctx.push(pushMessage('GiftEvents', 'gifted', new GiftEvents.GiftedArgs({ gift })));
        return gift;
      },
      async splurge(soft, idempotencyKey, ctx) {
        await ctx.services.player.spendCurrency(
          new protocol.SpendRequest({ idempotencyKey, currency: protocol.Currency.SOFT, amount: soft, reason: 'hat' }),
        );
      },
      refuse(why) {
        throw new GameError({ code: ErrorCode.BAD_REQUEST, message: 'refused: ' + why, retryable: false });
      },
    },
  }),
};
`;

export const RELAY_TS = `import { type ServiceModule } from 'noon';
import { Gifts, Relay } from '../gen/gifts';

const relay: ServiceModule<Relay.IHandler> = {
  role: 'relay',
  migrations: [],
  build: () => ({
    role: 'relay',
    thriftService: 'Relay',
    processor: Relay.Processor,
    stateful: false,
    idempotentMethods: ['forward'],
    handlers: {
      forward: (note, idempotencyKey, ctx) =>
        ctx.services.of(Gifts.Client, 'Gifts').give('relayed: ' + note, 'relay:' + idempotencyKey),
    },
  }),
};
export default relay;
`;

/** The built-in player with one rule of the studio's on spending; everything else is the built-in's. */
export const PLAYER_TS = `import { builtinModule, extendModule, protocol, type ServiceModule } from 'noon';
// the project's own copy of GameError: noon's Player Processor must still write it as declared
import { ErrorCode, GameError } from '../gen/noon';

const player = builtinModule('player') as ServiceModule<protocol.Player.IHandler>;

export default extendModule(player, {
  handlers: (original) => ({
    spendCurrency: async (req, ctx) => {
      if (req.reason === 'contraband')
        throw new GameError({ code: ErrorCode.FORBIDDEN, message: 'studio rule: no contraband' });
      return original.spendCurrency(req, ctx);
    },
  }),
});
`;

/** The studio's own leaderboard: one fixed board, to show its answers are the ones a client gets. */
export const LEADERBOARD_TS = `import Int64 from 'node-int64';
import { protocol, type ServiceModule } from 'noon';

const { Leaderboard, Pong, RankEntry } = protocol;
const entry = (userId: string) =>
  new RankEntry({ userId, username: 'studio-board', score: new Int64(42), rank: new Int64(1) });

const leaderboard: ServiceModule<protocol.Leaderboard.IHandler> = {
  role: 'leaderboard',
  migrations: [],
  build: (env) => ({
    role: 'leaderboard',
    thriftService: 'Leaderboard',
    processor: Leaderboard.Processor,
    stateful: false,
    publicMethods: ['ping'],
    idempotentMethods: ['top', 'myRank', 'around', 'ping'],
    internalMethods: ['report'],
    handlers: {
      top: () => [entry('studio')],
      myRank: (_board, ctx) => entry(ctx.userId),
      around: (_board, _radius, ctx) => [entry(ctx.userId)],
      report: (_board, userId) => entry(userId),
      ping: () => new Pong({ instance: env.instanceId, serviceName: 'studio-leaderboard', serverTimeMs: Date.now() }),
    },
  }),
};
export default leaderboard;
`;

/** The project's module files (relative to its folder) and their sources. */
export const STUDIO_SERVICES: Record<string, string> = {
  'src/services/gifts.ts': GIFTS_TS,
  'src/services/relay.ts': RELAY_TS,
  'src/services/player.ts': PLAYER_TS,
  'src/services/leaderboard.ts': LEADERBOARD_TS,
};
