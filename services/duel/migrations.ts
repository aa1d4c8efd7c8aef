/**
 * Duel results: one row per finished duel, written once (the id is the idempotency key). And the
 * settlement outbox (002): one row per staked duel from the moment it is matched ('open'), turned
 * 'pending' in the same transaction as the result, worked by the settler of any duel instance
 * until every step is done ('done'); see services/duel/settler.ts.
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
];
