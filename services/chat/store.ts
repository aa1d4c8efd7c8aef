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

/**
 * Takes the room's lease for `owner`: a new epoch, which fences every earlier holder out. The
 * UPDATE waits for inserts that hold the old epoch's row FOR SHARE, so once it commits the
 * room's max(seq) is final for the old holder, and the new one continues from it.
 */
export async function takeLease(q: Queryable, roomId: string, owner: string): Promise<number> {
  const r = await q.query<{ epoch: string }>(
    `INSERT INTO chat_room_leases (room_id, owner, epoch) VALUES ($1, $2, 1)
     ON CONFLICT (room_id) DO UPDATE SET owner = EXCLUDED.owner, epoch = chat_room_leases.epoch + 1, taken_at = now()
     RETURNING epoch`,
    [roomId, owner],
  );
  return Number(r.rows[0]?.epoch);
}

export interface NewMessage {
  userId: string;
  username: string;
  text: string;
}

/**
 * Inserts messages numbered firstSeq, firstSeq + 1 … in one statement, only while `epoch` is the
 * room's lease (checked in the same statement, the lease row held FOR SHARE until commit).
 * Returns false, inserting nothing, when the lease has moved on; rejects with 23505 when a seq
 * is taken.
 */
export async function insertFenced(
  q: Queryable,
  roomId: string,
  epoch: number,
  firstSeq: number,
  sentAtMs: number,
  msgs: readonly NewMessage[],
): Promise<boolean> {
  const r = await q.query(
    `WITH lease AS (SELECT 1 FROM chat_room_leases WHERE room_id = $1 AND epoch = $2 FOR SHARE)
     INSERT INTO chat_messages (room_id, seq, user_id, username, text, sent_at)
     SELECT $1, $3::bigint + m.i - 1, m.u, m.n, m.t, to_timestamp($4::double precision / 1000)
     FROM lease, unnest($5::text[], $6::text[], $7::text[]) WITH ORDINALITY AS m(u, n, t, i)`,
    [
      roomId,
      epoch,
      firstSeq,
      sentAtMs,
      msgs.map((m) => m.userId),
      msgs.map((m) => m.username),
      msgs.map((m) => m.text),
    ],
  );
  return r.rowCount === msgs.length;
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
