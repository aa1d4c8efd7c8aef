/** SQL for chat messages. */
import type { Queryable } from '../../shared/data/sql';

export interface Message {
  roomId: string;
  seq: number;
  userId: string;
  username: string;
  text: string;
  sentAtMs: number;
}

interface RawMessage {
  room_id: string;
  seq: string;
  user_id: string;
  username: string;
  text: string;
  sent_ms: string;
}

const COLUMNS = `room_id, seq, user_id, username, text, (extract(epoch FROM sent_at) * 1000)::bigint AS sent_ms`;

function toMessage(r: RawMessage): Message {
  return {
    roomId: r.room_id,
    seq: Number(r.seq),
    userId: r.user_id,
    username: r.username,
    text: r.text,
    sentAtMs: Number(r.sent_ms),
  };
}

/** The room's highest seq (0 for a room with no messages). */
export async function maxSeq(q: Queryable, roomId: string): Promise<number> {
  const r = await q.query<{ m: string | null }>('SELECT max(seq) AS m FROM chat_messages WHERE room_id = $1', [roomId]);
  return Number(r.rows[0]?.m ?? 0);
}

/** Inserts one numbered message; rejects with SQLSTATE 23505 when the seq is taken. */
export async function insertMessage(q: Queryable, m: Message): Promise<void> {
  await q.query(
    'INSERT INTO chat_messages (room_id, seq, user_id, username, text, sent_at) VALUES ($1, $2, $3, $4, $5, to_timestamp($6::double precision / 1000))',
    [m.roomId, m.seq, m.userId, m.username, m.text, m.sentAtMs],
  );
}

/** Messages with seq > afterSeq, oldest first. */
export async function messagesAfter(q: Queryable, roomId: string, afterSeq: number, limit: number): Promise<Message[]> {
  const r = await q.query<RawMessage>(
    `SELECT ${COLUMNS} FROM chat_messages WHERE room_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
    [roomId, afterSeq, limit],
  );
  return r.rows.map(toMessage);
}

/** The newest `limit` messages, oldest first. */
export async function lastMessages(q: Queryable, roomId: string, limit: number): Promise<Message[]> {
  const r = await q.query<RawMessage>(
    `SELECT ${COLUMNS} FROM chat_messages WHERE room_id = $1 ORDER BY seq DESC LIMIT $2`,
    [roomId, limit],
  );
  return r.rows.map(toMessage).reverse();
}
