/** Duel results: one row per finished duel, written once (the id is the idempotency key). */
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
];
