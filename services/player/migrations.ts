/**
 * Player tables. Tables carry a `player_` prefix because in `noon up` every service shares one
 * database. Invariants live in the schema so that no code path can break them:
 * - balances never go negative (CHECK);
 * - every balance change has a ledger row, and one operation touches each currency of a user at
 *   most once (UNIQUE (user_id, currency, idem_key)), so a replayed key can never apply twice;
 * - one outcome per (user, key) (PRIMARY KEY of player_idempotency), replayed to retries;
 * - a store receipt belongs to one user, once (PRIMARY KEY of player_receipts).
 */
import type { Migration } from '../../shared/data/migrate';

export const playerMigrations: readonly Migration[] = [
  {
    id: '001_players',
    sql: `
CREATE TABLE players (
  user_id text PRIMARY KEY,
  username text NOT NULL,
  level integer NOT NULL DEFAULT 1,
  xp bigint NOT NULL DEFAULT 0,
  soft bigint NOT NULL DEFAULT 0,
  hard bigint NOT NULL DEFAULT 0,
  rating integer NOT NULL DEFAULT 1000,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT players_funds_non_negative CHECK (soft >= 0 AND hard >= 0)
);
CREATE TABLE player_ledger (
  id bigserial PRIMARY KEY,
  user_id text NOT NULL REFERENCES players (user_id),
  currency text NOT NULL CHECK (currency IN ('soft', 'hard')),
  delta bigint NOT NULL CHECK (delta <> 0),
  balance_after bigint NOT NULL CHECK (balance_after >= 0),
  reason text NOT NULL,
  idem_key text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT player_ledger_once UNIQUE (user_id, currency, idem_key)
);
CREATE TABLE player_idempotency (
  user_id text NOT NULL REFERENCES players (user_id),
  key text NOT NULL,
  op text NOT NULL,
  fingerprint text NOT NULL,
  response text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, key)
);
CREATE TABLE player_receipts (
  receipt_id text PRIMARY KEY,
  user_id text NOT NULL REFERENCES players (user_id),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE player_units (
  unit_id text PRIMARY KEY,
  user_id text NOT NULL REFERENCES players (user_id),
  -- list order: the order units were acquired in (created_at ties within one transaction)
  seq bigserial NOT NULL,
  kind text NOT NULL,
  level integer NOT NULL CHECK (level >= 1),
  stars integer NOT NULL CHECK (stars >= 1),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX player_units_by_user ON player_units (user_id);
`,
  },
];
