/** Leaderboard schema. Postgres is the truth; the Kv sorted sets are rebuilt from `scores`. */
import type { Migration } from '../../shared/data/migrate';

export const leaderboardMigrations: readonly Migration[] = [
  {
    id: '001_scores',
    sql: `
CREATE TABLE IF NOT EXISTS scores (
  board text NOT NULL,
  user_id text NOT NULL,
  username text NOT NULL,
  score bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (board, user_id)
);
-- Rank order = Redis ZREVRANGE order: score descending, ties by member (bytewise) descending.
CREATE INDEX IF NOT EXISTS scores_rank ON scores (board, score DESC, user_id COLLATE "C" DESC);
-- One row per applied report: a retried report (same key) changes nothing.
CREATE TABLE IF NOT EXISTS score_reports (
  idempotency_key text PRIMARY KEY,
  board text NOT NULL,
  user_id text NOT NULL,
  delta bigint NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);`,
  },
];
