/**
 * Duel stakes held by the player service (services/player/escrow.ts). One `player_escrows` row per
 * duel (its state, and the tombstone that refuses a late escrow for a duel already closed) and one
 * `player_escrow` row per stake. The debit of a stake, its ledger row and its escrow row commit in
 * one transaction; so do a payout or a refund and the rows they close. At any time, for every
 * duel: what its players were debited = what is held + what was paid out or refunded.
 */
import type { Migration } from '../../shared/data/migrate';

export const escrowMigrations: readonly Migration[] = [
  {
    id: '003_duel_escrow',
    sql: `
CREATE TABLE player_escrows (
  duel_id text PRIMARY KEY,
  user_ids text[] NOT NULL,
  -- per player; 0 for a void escrow (closed before anything was taken)
  amount bigint NOT NULL CHECK (amount >= 0),
  state text NOT NULL CHECK (state IN ('held', 'paid', 'refunded', 'void')),
  winner text REFERENCES players (user_id),
  created_at timestamptz NOT NULL DEFAULT now(),
  closed_at timestamptz,
  CONSTRAINT player_escrows_paid_has_winner CHECK ((state = 'paid') = (winner IS NOT NULL))
);
CREATE TABLE player_escrow (
  duel_id text NOT NULL REFERENCES player_escrows (duel_id),
  user_id text NOT NULL REFERENCES players (user_id),
  amount bigint NOT NULL CHECK (amount > 0),
  state text NOT NULL CHECK (state IN ('held', 'paid', 'refunded')),
  PRIMARY KEY (duel_id, user_id)
);
CREATE INDEX player_escrow_held ON player_escrow (user_id) WHERE state = 'held';
`,
  },
];
