/**
 * SQL of live duels (`duel_games`, migration 003): the truth of each duel's state, one row per
 * duel, so any duel instance can take a duel over from one that drained or died.
 *
 * Two columns fence writers. `holder` is the one instance that applies moves and runs the turn
 * timer; every write names it, so an instance that lost the duel (taken over while it was slow,
 * stopped or cut off) changes nothing. `version` counts accepted changes; every write names the
 * version it read, so no change is applied on top of a state its writer did not see. A takeover
 * names the holder and version it read, so of two instances taking one duel, one wins.
 */
import type { Queryable } from '../../shared/data/sql';
import type { EndReason, Game } from './rules';

export interface SeatRow {
  userId: string;
  username: string;
  sessionId: string;
}

export interface GameRow {
  game: Game;
  version: number;
  /** undefined: released (its holder drained or stopped), free for anyone to take */
  holder: string | undefined;
  seats: [SeatRow, SeatRow];
}

interface Raw {
  id: string;
  players: string[];
  usernames: string[];
  sessions: string[];
  stake: unknown;
  drawn: string[];
  finished: boolean;
  winner: string;
  loser: string;
  reason: string;
  deadline_ms: unknown;
  version: unknown;
  holder: string | null;
}

const COLS =
  'id, players, usernames, sessions, stake, drawn, finished, winner, loser, reason, deadline_ms, version, holder';

function toRow(r: Raw): GameRow {
  const players: [string, string] = [r.players[0] ?? '', r.players[1] ?? ''];
  const seat = (i: 0 | 1): SeatRow => ({
    userId: players[i],
    username: r.usernames[i] ?? players[i],
    sessionId: r.sessions[i] ?? '',
  });
  return {
    game: {
      id: r.id,
      players,
      stake: Number(r.stake),
      drawn: [...r.drawn],
      finished: r.finished,
      winner: r.winner,
      loser: r.loser,
      reason: r.reason as EndReason | '',
      deadline: Number(r.deadline_ms),
    },
    version: Number(r.version),
    holder: r.holder ?? undefined,
    seats: [seat(0), seat(1)],
  };
}

/** A new duel, held by `holder`, at version 1. */
export async function insertGame(
  q: Queryable,
  g: Game,
  seats: readonly [SeatRow, SeatRow],
  holder: string,
): Promise<void> {
  await q.query(
    `INSERT INTO duel_games (id, players, usernames, sessions, stake, drawn, deadline_ms, holder)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      g.id,
      [...g.players],
      seats.map((s) => s.username),
      seats.map((s) => s.sessionId),
      g.stake,
      [...g.drawn],
      g.deadline,
      holder,
    ],
  );
}

export async function loadGame(q: Queryable, duelId: string): Promise<GameRow | undefined> {
  const r = await q.query<Raw>(`SELECT ${COLS} FROM duel_games WHERE id = $1`, [duelId]);
  const row = r.rows[0];
  return row === undefined ? undefined : toRow(row);
}

/**
 * Writes `g` as the state after `version`, if `holder` still holds the duel and nobody changed it
 * since: true when it did (the row is now at version + 1).
 */
export async function saveGame(q: Queryable, g: Game, version: number, holder: string): Promise<boolean> {
  const r = await q.query(
    `UPDATE duel_games SET drawn = $4, finished = $5, winner = $6, loser = $7, reason = $8, deadline_ms = $9,
       version = version + 1, updated_at = now()
     WHERE id = $1 AND version = $2 AND holder = $3`,
    [g.id, version, holder, [...g.drawn], g.finished, g.winner, g.loser, g.reason, g.deadline],
  );
  return r.rowCount > 0;
}

/**
 * `me` takes the unfinished duel from `from` (undefined: released), if the row is still as it was
 * read (that holder, that version): true when it did.
 */
export async function takeOver(
  q: Queryable,
  duelId: string,
  version: number,
  from: string | undefined,
  me: string,
): Promise<boolean> {
  const r = await q.query(
    `UPDATE duel_games SET holder = $4, updated_at = now()
     WHERE id = $1 AND version = $2 AND holder IS NOT DISTINCT FROM $3 AND NOT finished`,
    [duelId, version, from ?? null, me],
  );
  return r.rowCount > 0;
}

/** `me` lets the duel go (draining, stopping): the next instance to call for it takes it. */
export async function releaseGame(q: Queryable, duelId: string, me: string): Promise<boolean> {
  const r = await q.query(
    'UPDATE duel_games SET holder = NULL, updated_at = now() WHERE id = $1 AND holder = $2 AND NOT finished',
    [duelId, me],
  );
  return r.rowCount > 0;
}

/** A player's session changed (a new login): pushes of the duel go to it from now on. */
export async function setSession(q: Queryable, duelId: string, seat: 0 | 1, sessionId: string): Promise<void> {
  await q.query('UPDATE duel_games SET sessions[$2] = $3 WHERE id = $1', [duelId, seat + 1, sessionId]);
}

/** Unfinished duels nobody live holds: released, or held by an instance not in `live`. */
export async function unheldGames(
  q: Queryable,
  live: readonly string[],
  limit: number,
): Promise<Array<{ id: string; holder: string | undefined }>> {
  const r = await q.query<{ id: string; holder: string | null }>(
    `SELECT id, holder FROM duel_games
      WHERE NOT finished AND (holder IS NULL OR NOT (holder = ANY($1::text[])))
      ORDER BY updated_at LIMIT $2`,
    [[...live], limit],
  );
  return r.rows.map((x) => ({ id: x.id, holder: x.holder ?? undefined }));
}

/** Finished duels are kept a while for late getDuel calls, then removed (their result stays in `duels`). */
export async function purgeFinished(q: Queryable, olderThanMs: number): Promise<void> {
  await q.query(
    `DELETE FROM duel_games WHERE finished AND updated_at < now() - $1::double precision * interval '1 millisecond'`,
    [olderThanMs],
  );
}
