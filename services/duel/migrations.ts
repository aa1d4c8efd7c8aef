/**
 * Duel results: one row per finished duel, written once (the id is the idempotency key). And the
 * settlement outbox (002): one row per staked duel from the moment it is matched ('open'), turned
 * 'pending' in the same transaction as the result, worked by the settler of any duel instance
 * until every step is done ('done'); see services/duel/settler.ts. A live duel's state (003): one
 * row per duel, the truth any duel instance can take it over from (services/duel/games.ts). The
 * matchmaking queue (004): one row per waiting or pairing player (services/duel/queue.ts).
 */
import type { Migration } from '../../shared/data/migrate';

export const duelMigrations: readonly Migration[] = [
  {
    id: '001_duels',
    sql: `
CREATE TABLE IF NOT EXISTS duels (
  id text PRIMARY KEY,
  players text[] NOT NULL,
  winner text,
  loser text,
  reason text NOT NULL,
  stake bigint NOT NULL,
  ended_at timestamptz NOT NULL DEFAULT now()
);
-- history(): a player's duels, newest first
CREATE INDEX IF NOT EXISTS duels_players ON duels USING gin (players);
CREATE INDEX IF NOT EXISTS duels_ended ON duels (ended_at DESC);`,
  },
  {
    id: '002_settlements',
    sql: `
CREATE TABLE IF NOT EXISTS duel_settlements (
  duel_id text PRIMARY KEY,
  players text[] NOT NULL,
  -- display names for the leaderboard, in players' order
  usernames text[] NOT NULL,
  stake bigint NOT NULL CHECK (stake >= 0),
  -- the instance that holds (or held) the live duel
  instance_id text NOT NULL,
  -- open: matched, stakes possibly in escrow, no result yet; pending: steps left; done
  state text NOT NULL CHECK (state IN ('open', 'pending', 'done')),
  -- what the escrow owes: the total to the winner, each stake back, or nothing (no stake)
  escrow text CHECK (escrow IN ('payout', 'refund', 'none')),
  winner text,
  reason text,
  escrow_done boolean NOT NULL DEFAULT false,
  report_done boolean NOT NULL DEFAULT false,
  attempts integer NOT NULL DEFAULT 0,
  -- a pending row is due at next_at (after a backoff, or when a worker's lease ends)
  next_at timestamptz NOT NULL DEFAULT now(),
  claimed_by text,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  done_at timestamptz,
  CONSTRAINT duel_settlements_decided CHECK (state = 'open' OR escrow IS NOT NULL),
  CONSTRAINT duel_settlements_payout_winner CHECK (escrow IS DISTINCT FROM 'payout' OR winner IS NOT NULL)
);
CREATE INDEX IF NOT EXISTS duel_settlements_due ON duel_settlements (next_at) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS duel_settlements_open ON duel_settlements (created_at) WHERE state = 'open';`,
  },
  {
    id: '003_live_duels',
    sql: `
CREATE TABLE IF NOT EXISTS duel_games (
  id text PRIMARY KEY,
  players text[] NOT NULL,
  -- display names and the sessions pushes go to, in players' order
  usernames text[] NOT NULL,
  sessions text[] NOT NULL,
  stake bigint NOT NULL CHECK (stake >= 0),
  -- players who have drawn, in order
  drawn text[] NOT NULL DEFAULT '{}',
  finished boolean NOT NULL DEFAULT false,
  winner text NOT NULL DEFAULT '',
  loser text NOT NULL DEFAULT '',
  reason text NOT NULL DEFAULT '',
  -- when the current turn times out, ms since the epoch
  deadline_ms bigint NOT NULL,
  -- one more with every accepted change: a write names the version it read
  version integer NOT NULL DEFAULT 1,
  -- the instance that applies its moves and runs its timer; NULL once released (drain, stop)
  holder text,
  updated_at timestamptz NOT NULL DEFAULT now()
);
-- the sweep: live duels whose holder is gone or released
CREATE INDEX IF NOT EXISTS duel_games_live ON duel_games (holder) WHERE NOT finished;
CREATE INDEX IF NOT EXISTS duel_games_finished ON duel_games (updated_at) WHERE finished;`,
  },
  {
    id: '004_match_queue',
    sql: `
CREATE TABLE IF NOT EXISTS duel_queue (
  -- a user waits at most once
  user_id text PRIMARY KEY,
  username text NOT NULL,
  session_id text NOT NULL,
  via text,
  stake bigint NOT NULL CHECK (stake >= 0),
  -- ms since the epoch: the queue's order, and its age against the max wait
  since_ms bigint NOT NULL,
  -- waiting: in the queue; pairing: taken by a matchmaker whose escrow is not settled yet
  state text NOT NULL CHECK (state IN ('waiting', 'pairing')),
  claimed_by text,
  claimed_ms bigint
);
CREATE INDEX IF NOT EXISTS duel_queue_order ON duel_queue (stake, since_ms) WHERE state = 'waiting';
CREATE INDEX IF NOT EXISTS duel_queue_session ON duel_queue (session_id);`,
  },
  {
    id: '005_analytics',
    sql: `
-- one row per finished duel, written by the worker from the duel.finished job (analytics.ts)
CREATE TABLE IF NOT EXISTS duel_analytics (
  duel_id text PRIMARY KEY,
  players text[] NOT NULL,
  winner text,
  reason text NOT NULL,
  stake bigint NOT NULL,
  ended_at timestamptz NOT NULL,
  -- the job that wrote it
  job_id bigint NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now()
);`,
  },
];
