/**
 * Board ranking over a Kv sorted set per board (`lb:{<board>}`, member = user id) with usernames
 * in a hash on the same shard (`lb:{<board>}:names`). Postgres is the truth: the set is rebuilt
 * from `scores` when it is missing (zcard 0 while Postgres has rows: a flushed or replaced shard)
 * or after a cache write of this process failed, and every read falls back to SQL ordering when
 * the Kv fails (a dead shard): slower, never wrong. Writes put the absolute score read back from
 * Postgres (ZADD, not ZINCRBY), so a retried cache write or one racing a rebuild cannot
 * double-count; at worst a racing rebuild leaves one user's previous score until their next report.
 */
import type { Kv, ScoredMember } from '../../shared/data/kv';
import type { Db } from '../../shared/data/sql';
import type { Logger } from '../../shared/log';
import { allRows, applyReport, countRows, namesOf, positionOf, slice, type ScoreRow } from './store';

export interface Ranked extends ScoreRow {
  /** 1 = best */
  rank: number;
}

const setKey = (board: string): string => `lb:{${board}}`;
const namesKey = (board: string): string => `lb:{${board}}:names`;

export class Ranks {
  /** Boards whose Kv copy may be stale (a cache write failed): rebuilt on next Kv use. */
  private readonly dirty = new Set<string>();
  private readonly rebuilding = new Map<string, Promise<void>>();

  constructor(
    private readonly db: Db,
    private readonly kv: Kv,
    private readonly log: Logger,
  ) {}

  async top(board: string, count: number): Promise<Ranked[]> {
    return this.viaKv(
      board,
      async () => this.named(board, await this.kv.zrevrange(setKey(board), 0, count - 1), 0),
      async () => rank(await slice(this.db, board, 0, count), 0),
    );
  }

  /** The user's entry, or undefined when the user has no score on the board. */
  async rankOf(board: string, userId: string): Promise<Ranked | undefined> {
    return this.viaKv(
      board,
      async () => {
        const pos = await this.kv.zrevrank(setKey(board), userId);
        if (pos === null) return undefined;
        return (await this.named(board, await this.kv.zrevrange(setKey(board), pos, pos), pos))[0];
      },
      async () => {
        const found = await positionOf(this.db, board, userId);
        return found ? { ...found.row, rank: found.pos + 1 } : undefined;
      },
    );
  }

  /** Entries within `radius` places of the user (the user included); [] when unranked. */
  async around(board: string, userId: string, radius: number): Promise<Ranked[]> {
    return this.viaKv(
      board,
      async () => {
        const pos = await this.kv.zrevrank(setKey(board), userId);
        if (pos === null) return [];
        const from = Math.max(0, pos - radius);
        return this.named(board, await this.kv.zrevrange(setKey(board), from, pos + radius), from);
      },
      async () => {
        const found = await positionOf(this.db, board, userId);
        if (!found) return [];
        const from = Math.max(0, found.pos - radius);
        return rank(await slice(this.db, board, from, found.pos + radius - from + 1), from);
      },
    );
  }

  /** Applies a report once per key (Postgres), then refreshes the Kv copy; returns the entry. */
  async report(board: string, userId: string, username: string, delta: number, key: string): Promise<Ranked> {
    const { row, fresh } = await applyReport(this.db, board, userId, username, delta, key);
    if (fresh) await this.cacheWrite(board, row);
    return (await this.rankOf(board, userId)) ?? { ...row, rank: 0 };
  }

  private async cacheWrite(board: string, row: ScoreRow): Promise<void> {
    try {
      // A rebuild this write joins may have read Postgres before this report committed (eight
      // settlements arriving at once after a leaderboard outage left a winner out of the set), so
      // the row is written after it either way: an absolute score, harmless if it was read.
      if (this.dirty.has(board) || (await this.kv.zcard(setKey(board))) === 0) await this.rebuild(board);
      await this.kv.zadd(setKey(board), row.score, row.userId);
      if (row.username !== '') await this.kv.hset(namesKey(board), row.userId, row.username);
    } catch (err) {
      // Postgres has the report; the Kv copy is now suspect until rebuilt.
      this.dirty.add(board);
      this.log.warn({ err: (err as Error).message, board }, 'leaderboard cache write failed; board marked for rebuild');
    }
  }

  /** Runs `kvPath` on a usable Kv copy, or `sqlPath` when the Kv fails. */
  private async viaKv<T>(board: string, kvPath: () => Promise<T>, sqlPath: () => Promise<T>): Promise<T> {
    try {
      await this.ensureLoaded(board);
      return await kvPath();
    } catch (err) {
      this.log.debug({ err: (err as Error).message, board }, 'leaderboard Kv unusable; answering from Postgres');
      return sqlPath();
    }
  }

  private async ensureLoaded(board: string): Promise<void> {
    if (!this.dirty.has(board) && (await this.kv.zcard(setKey(board))) > 0) return;
    if (this.dirty.has(board) || (await countRows(this.db, board)) > 0) await this.rebuild(board);
  }

  /** One rebuild per board at a time in this process; concurrent callers share it. */
  private rebuild(board: string): Promise<void> {
    const running = this.rebuilding.get(board);
    if (running) return running;
    const p = this.doRebuild(board).finally(() => this.rebuilding.delete(board));
    this.rebuilding.set(board, p);
    return p;
  }

  private async doRebuild(board: string): Promise<void> {
    const wasDirty = this.dirty.has(board);
    const rows = await allRows(this.db, board);
    await this.kv.del(setKey(board));
    await this.kv.del(namesKey(board));
    if (rows.length > 0) {
      const members: ScoredMember[] = rows.map((r) => ({ member: r.userId, score: r.score }));
      await this.kv.zaddMany(setKey(board), members);
      await Promise.all(
        rows.filter((r) => r.username !== '').map((r) => this.kv.hset(namesKey(board), r.userId, r.username)),
      );
    }
    if (wasDirty) this.dirty.delete(board);
    this.log.info({ board, rows: rows.length }, 'leaderboard rebuilt from Postgres');
  }

  /** Attaches usernames (Kv hash, then Postgres for any the hash lost) and 1-based ranks. */
  private async named(board: string, members: ScoredMember[], offset: number): Promise<Ranked[]> {
    const names = await Promise.all(members.map((m) => this.kv.hget(namesKey(board), m.member)));
    const missing = members.filter((_, i) => names[i] === null).map((m) => m.member);
    const fromDb = missing.length > 0 ? await namesOf(this.db, board, missing) : new Map<string, string>();
    return members.map((m, i) => ({
      userId: m.member,
      username: names[i] ?? fromDb.get(m.member) ?? '',
      score: m.score,
      rank: offset + i + 1,
    }));
  }
}

function rank(rows: ScoreRow[], offset: number): Ranked[] {
  return rows.map((r, i) => ({ ...r, rank: offset + i + 1 }));
}
