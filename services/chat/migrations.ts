/** Chat history: every message of every room, numbered by the room's owner. */
import type { Migration } from '../../shared/data/migrate';

export const chatMigrations: readonly Migration[] = [
  {
    id: '001_chat_messages',
    sql: `
CREATE TABLE IF NOT EXISTS chat_messages (
  room_id text NOT NULL,
  seq bigint NOT NULL,
  user_id text NOT NULL,
  username text NOT NULL,
  text text NOT NULL,
  sent_at timestamptz NOT NULL DEFAULT now(),
  -- the total order per room: two owners numbering at once cannot both commit one seq
  PRIMARY KEY (room_id, seq)
);`,
  },
  {
    // The fence of a room's numbering: only the holder of the current epoch may insert
    // (services/chat/store.ts insertFenced); a new owner takes the room by raising the epoch.
    id: '002_chat_room_leases',
    sql: `
CREATE TABLE IF NOT EXISTS chat_room_leases (
  room_id text PRIMARY KEY,
  owner text NOT NULL,
  epoch bigint NOT NULL,
  taken_at timestamptz NOT NULL DEFAULT now()
);`,
  },
  {
    // A say's key (its session and the client's request id): a retry of a say that was stored
    // finds its first row instead of storing the text again, even when the reply cache could not
    // tell (its shared store unreachable, an owner that ran the first attempt after a partition).
    id: '003_chat_request_keys',
    sql: `
ALTER TABLE chat_messages ADD COLUMN IF NOT EXISTS request_key text;
CREATE UNIQUE INDEX IF NOT EXISTS chat_messages_request_key
  ON chat_messages (room_id, user_id, request_key) WHERE request_key IS NOT NULL;`,
  },
];
