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
];
