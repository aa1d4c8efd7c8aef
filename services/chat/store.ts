/** SQL for chat messages. */
import type { Db, Queryable } from '../../shared/data/sql';

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
  /** the say's session and client request id: a say with a stored key is not stored again */
  requestKey?: string;
}

/** What insertFenced did: nothing (the lease moved on), or stored all but the already stored. */
export type FencedInsert =
  | { fenced: true }
  | {
      fenced: false;
      /** how many were inserted: the ones not in `stored`, numbered from firstSeq in order */
      inserted: number;
      /** index in the batch → the first row of a say whose key was already stored */
      stored: Map<number, { seq: number; sentAtMs: number }>;
    };

/**
 * Inserts messages numbered firstSeq, firstSeq + 1 … in one statement, only while `epoch` is the
 * room's lease (checked in the same statement, the lease row held FOR SHARE until commit). A
 * message whose requestKey the room already has is not inserted and takes no seq (the numbering
 * stays gapless); its first row is returned instead. Rejects with 23505 when a seq is taken (or
 * a key, by an insert that committed in between), and with TIMEOUT (CommitUnknownError) when the
 * statement was sent and its answer lost: it may have landed, and a retry finds it by its key.
 */
export async function insertFenced(
  q: Pick<Db, 'autocommit'>,
  roomId: string,
  epoch: number,
  firstSeq: number,
  sentAtMs: number,
  msgs: readonly NewMessage[],
): Promise<FencedInsert> {
  const r = await q.autocommit<{ leased: number; inserted: number; stored: Array<[number, string, string]> }>(
    `WITH lease AS (SELECT 1 FROM chat_room_leases WHERE room_id = $1 AND epoch = $2 FOR SHARE),
     m AS (SELECT * FROM unnest($5::text[], $6::text[], $7::text[], $8::text[]) WITH ORDINALITY AS m(u, n, t, k, i)),
     stored AS (
       SELECT m.i, c.seq, (extract(epoch FROM c.sent_at) * 1000)::bigint AS sent_ms
       FROM m JOIN chat_messages c ON c.room_id = $1 AND c.user_id = m.u AND c.request_key = m.k),
     fresh AS (SELECT m.*, row_number() OVER (ORDER BY m.i) AS r FROM m WHERE m.i NOT IN (SELECT i FROM stored)),
     ins AS (
       INSERT INTO chat_messages (room_id, seq, user_id, username, text, sent_at, request_key)
       SELECT $1, $3::bigint + fresh.r - 1, fresh.u, fresh.n, fresh.t, to_timestamp($4::double precision / 1000), fresh.k
       FROM lease, fresh
       RETURNING 1)
     SELECT (SELECT count(*) FROM lease)::int AS leased, (SELECT count(*) FROM ins)::int AS inserted,
       coalesce((SELECT json_agg(json_build_array(i, seq::text, sent_ms::text)) FROM stored), '[]'::json) AS stored`,
    [
      roomId,
      epoch,
      firstSeq,
      sentAtMs,
      msgs.map((m) => m.userId),
      msgs.map((m) => m.username),
      msgs.map((m) => m.text),
      msgs.map((m) => m.requestKey ?? null),
    ],
  );
  const row = r.rows[0];
  if (!row || row.leased === 0) return { fenced: true };
  const stored = new Map(row.stored.map(([i, seq, ms]) => [i - 1, { seq: Number(seq), sentAtMs: Number(ms) }]));
  return { fenced: false, inserted: row.inserted, stored };
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
