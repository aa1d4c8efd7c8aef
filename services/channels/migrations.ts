/** Channel history: every message of every channel, numbered by the channel's owner. */
import type { Migration } from '../../shared/data/migrate';

export const channelsMigrations: readonly Migration[] = [
  {
    id: '001_channel_messages',
    sql: `
CREATE TABLE IF NOT EXISTS channel_messages (
  channel text NOT NULL,
  seq bigint NOT NULL,
  -- name -> {"t": text} | {"i": "<i64 as 16 hex digits>"} | {"r": real} | {"f": flag}
  attributes jsonb NOT NULL,
  payload bytea NOT NULL,
  publisher text NOT NULL,
  sent_ms bigint NOT NULL,
  -- the total order per channel: two owners numbering at once cannot both commit one seq
  PRIMARY KEY (channel, seq)
);`,
  },
];
