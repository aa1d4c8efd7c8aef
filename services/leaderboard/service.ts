/**
 * Leaderboard: stateless; any instance answers any board. `report` is service-to-service only
 * (duel results) and idempotent by its key; reads are idempotent, so the broker may retry them.
 */
import type Int64 from 'node-int64';
import { ErrorCode, GameError, Leaderboard, Pong, RankEntry } from '../../shared/protocol';
import type { ServiceDef, ServiceModule } from '../../rpc/api';
import { leaderboardMigrations } from './migrations';
import { Ranks, type Ranked } from './ranks';

export const MAX_TOP = 100;
export const MAX_RADIUS = 50;
const BOARD_RE = /^[A-Za-z0-9_.:-]{1,64}$/;

function bad(message: string): GameError {
  return new GameError({ code: ErrorCode.BAD_REQUEST, message, retryable: false });
}

function checkBoard(board: string): string {
  if (!BOARD_RE.test(board)) throw bad('board must be 1..64 characters of [A-Za-z0-9_.:-]');
  return board;
}

/** Counts above the cap are clamped (a client asking for "lots" gets the most we serve). */
function checkCount(n: number, max: number, what: string, min = 1): number {
  if (!Number.isInteger(n) || n < min) throw bad(`${what} must be at least ${min}`);
  return Math.min(n, max);
}

export function toInt(x: Int64, what: string): number {
  const n = Number(x.toString());
  if (!Number.isSafeInteger(n)) throw bad(`${what} is out of range`);
  return n;
}

function entry(r: Ranked): RankEntry {
  return new RankEntry({ userId: r.userId, username: r.username, score: r.score, rank: r.rank });
}

export function leaderboardService(ranks: Ranks, instanceId: string): ServiceDef<Leaderboard.IHandler> {
  return {
    role: 'leaderboard',
    thriftService: 'Leaderboard',
    processor: Leaderboard.Processor,
    stateful: false,
    publicMethods: ['ping'],
    idempotentMethods: ['top', 'myRank', 'around', 'ping', 'report'],
    internalMethods: ['report'],
    handlers: {
      top: async (board, count) => (await ranks.top(checkBoard(board), checkCount(count, MAX_TOP, 'count'))).map(entry),
      myRank: async (board, ctx) => {
        const r = await ranks.rankOf(checkBoard(board), ctx.userId);
        // rank 0 = not on the board yet (no score reported)
        return entry(r ?? { userId: ctx.userId, username: '', score: 0, rank: 0 });
      },
      around: async (board, radius, ctx) =>
        (await ranks.around(checkBoard(board), ctx.userId, checkCount(radius, MAX_RADIUS, 'radius', 0))).map(entry),
      report: async (board, userId, username, delta, idempotencyKey) => {
        if (userId === '' || userId.length > 128) throw bad('userId must be 1..128 characters');
        if (idempotencyKey === '' || idempotencyKey.length > 200) throw bad('idempotencyKey must be 1..200 characters');
        if (username.length > 64) throw bad('username must be at most 64 characters');
        return entry(await ranks.report(checkBoard(board), userId, username, toInt(delta, 'delta'), idempotencyKey));
      },
      ping: () => new Pong({ instance: instanceId, serviceName: 'Leaderboard', serverTimeMs: Date.now() }),
    },
  };
}

export const leaderboardModule: ServiceModule<Leaderboard.IHandler> = {
  role: 'leaderboard',
  migrations: leaderboardMigrations,
  build: (env, { db, kv }) =>
    leaderboardService(new Ranks(db, kv, env.logger.child({ component: 'ranks' })), env.instanceId),
};
