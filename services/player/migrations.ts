/**
 * Player tables. Tables carry a `player_` prefix because in `noon up` every service shares one
 * database. Invariants live in the schema so that no code path can break them:
 * - balances never go negative (CHECK);
 * - every balance change has a ledger row, and one operation touches each currency of a user at
 *   most once (UNIQUE (user_id, currency, idem_key)), so a replayed key can never apply twice;
 * - one outcome per (user, key) (PRIMARY KEY of player_idempotency), replayed to retries;
 * - a store receipt belongs to one user, once (PRIMARY KEY of player_receipts; since
 *   002_ledger_source, of player_purchases: one row per store transaction);
 * - every ledger row names its source, and a credit one of the known credit kinds (002, CHECK).
 */
import type { Migration } from '../../shared/data/migrate';
import { escrowMigrations } from './escrow-migrations';
import { walletMigrations } from './wallet-migrations';

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
  {
    // Every ledger row names its source (services/player/ledger.ts); verified purchases get their
    // own table, keyed by the store's transaction id. Rows from before are backfilled: what can be
    // told from reason and key keeps its kind, the rest (notably purchases credited for any
    // receipt id a client sent) becomes 'legacy:…', which the ledger audit reports.
    id: '002_ledger_source',
    sql: `
ALTER TABLE player_ledger ADD COLUMN source text;
UPDATE player_ledger SET source = CASE
  WHEN reason = 'starter' AND idem_key = 'starter' THEN 'initial'
  WHEN delta > 0 AND idem_key LIKE 'g:%' THEN 'grant:' || reason
  WHEN delta > 0 AND reason = 'round' THEN 'round:' || idem_key
  WHEN delta < 0 AND reason IN ('levelUp', 'evolve') THEN 'legacy:unit:' || reason || ':' || idem_key
  WHEN delta < 0 THEN 'spend:' || reason
  ELSE 'legacy:' || reason || ':' || idem_key
END;
ALTER TABLE player_ledger ALTER COLUMN source SET NOT NULL;
ALTER TABLE player_ledger ADD CONSTRAINT player_ledger_source_named CHECK (source <> '');
-- NOT VALID: every new or updated row is checked; the backfilled legacy rows are left for the audit.
ALTER TABLE player_ledger ADD CONSTRAINT player_ledger_credit_source CHECK (
  delta < 0 OR source ~ '^(initial|purchase:(appstore|googleplay|development):.+|grant:.+|round:.+|duel:[a-z]+:.+)$'
) NOT VALID;
CREATE TABLE player_purchases (
  store text NOT NULL CHECK (store IN ('appstore', 'googleplay', 'development')),
  transaction_id text NOT NULL,
  user_id text NOT NULL REFERENCES players (user_id),
  product_id text NOT NULL,
  currency text NOT NULL CHECK (currency IN ('soft', 'hard')),
  amount bigint NOT NULL CHECK (amount > 0),
  environment text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (store, transaction_id)
);
`,
  },
  // duel stakes in escrow (escrow-migrations.ts)
  ...escrowMigrations,
  // buy, spend and grant as one statement each (wallet-migrations.ts)
  ...walletMigrations,
];
