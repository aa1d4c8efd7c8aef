/**
 * Sso tables (prefixed: one database serves every service in `noon up`). Sessions are the truth
 * here; Kv only caches them. A session row stores a SHA-256 of its token, never the token, so a
 * database leak does not hand out live sessions.
 */
import type { Migration } from '../../shared/data/migrate';

export const ssoMigrations: readonly Migration[] = [
  {
    id: '001_users_sessions',
    sql: `
CREATE TABLE sso_users (
  user_id text PRIMARY KEY,
  username text NOT NULL,
  password_hash text NOT NULL,
  -- false until the player service confirmed the profile; login repairs it (register may have
  -- committed the user and then failed to reach the player service)
  profile_ready boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX sso_users_username ON sso_users (lower(username));
CREATE TABLE sso_sessions (
  session_id text PRIMARY KEY,
  user_id text NOT NULL REFERENCES sso_users (user_id),
  username text NOT NULL,
  token_hash text NOT NULL UNIQUE,
  expires_at_ms bigint NOT NULL,
  revoked boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sso_sessions_by_user ON sso_sessions (user_id);
`,
  },
  {
    // Device (guest) accounts: the SHA-256 of the device id, never the id (a bearer secret).
    id: '002_device_accounts',
    sql: `
ALTER TABLE sso_users ADD COLUMN device_id_hash text;
CREATE UNIQUE INDEX sso_users_device ON sso_users (device_id_hash) WHERE device_id_hash IS NOT NULL;
`,
  },
];
