/** SQL for channel messages. */
import Int64 from 'node-int64';
import type { Queryable } from '../../shared/data/sql';
import { ChannelMessage, ChannelValue } from '../../shared/protocol';

export interface NewChannelMessage {
  attributes: Map<string, ChannelValue>;
  payload: Buffer;
  publisher: string;
}

type StoredValue = { t: string } | { i: string } | { r: number } | { f: boolean };

interface RawMessage {
  channel: string;
  seq: string;
  attributes: Record<string, StoredValue>;
  payload: Buffer | Uint8Array;
  publisher: string;
  sent_ms: string;
}

function stored(v: ChannelValue): StoredValue {
  if (v.text != null) return { t: v.text };
  if (v.integer != null) return { i: v.integer.toOctetString('') }; // exact: 16 hex digits
  if (v.real != null) return { r: v.real };
  return { f: v.flag === true };
}

function value(s: StoredValue): ChannelValue {
  if ('t' in s) return new ChannelValue({ text: s.t });
  if ('i' in s) return new ChannelValue({ integer: new Int64(s.i) });
  if ('r' in s) return new ChannelValue({ real: s.r });
  return new ChannelValue({ flag: s.f });
}

function toMessage(r: RawMessage): ChannelMessage {
  return new ChannelMessage({
    channel: r.channel,
    seq: Number(r.seq),
    attributes: new Map(Object.entries(r.attributes).map(([k, v]) => [k, value(v)])),
    payload: Buffer.from(r.payload),
    publisher: r.publisher,
    sentAtMs: Number(r.sent_ms),
  });
}

/** The channel's highest seq (0 for a channel with no messages). */
export async function maxSeq(q: Queryable, channel: string): Promise<number> {
  const r = await q.query<{ m: string | null }>('SELECT max(seq) AS m FROM channel_messages WHERE channel = $1', [
    channel,
  ]);
  return Number(r.rows[0]?.m ?? 0);
}

/**
 * Inserts messages numbered firstSeq, firstSeq + 1 … in one statement; rejects with 23505 (and
 * inserts nothing) when one of those seqs is taken, i.e. another instance numbered the channel
 * meanwhile.
 */
export async function insertBatch(
  q: Queryable,
  channel: string,
  firstSeq: number,
  sentAtMs: number,
  msgs: readonly NewChannelMessage[],
): Promise<void> {
  await q.query(
    `INSERT INTO channel_messages (channel, seq, attributes, payload, publisher, sent_ms)
     SELECT $1, $2::bigint + m.i - 1, m.a::jsonb, decode(m.p, 'base64'), m.who, $3
     FROM unnest($4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS m(a, p, who, i)`,
    [
      channel,
      firstSeq,
      sentAtMs,
      msgs.map((m) => JSON.stringify(Object.fromEntries([...m.attributes].map(([k, v]) => [k, stored(v)])))),
      msgs.map((m) => m.payload.toString('base64')),
      msgs.map((m) => m.publisher),
    ],
  );
}

/** Messages with seq > afterSeq, oldest first. */
export async function messagesAfter(
  q: Queryable,
  channel: string,
  afterSeq: number,
  limit: number,
): Promise<ChannelMessage[]> {
  const r = await q.query<RawMessage>(
    `SELECT channel, seq, attributes, payload, publisher, sent_ms FROM channel_messages
     WHERE channel = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
    [channel, afterSeq, limit],
  );
  return r.rows.map(toMessage);
}
