/**
 * The pure parts of a session's push stream (docs/pushes.md): how one push is stored in the
 * session store's window, what a reader after `afterSeq` gets back (the pushes still held, and
 * the range it can no longer have), and how a receiver tells a new push from a duplicate.
 */

export interface StoredPush {
  seq: number;
  /** when it was appended, epoch ms (the window's age bound is applied when read) */
  atMs: number;
  /** the message's name, e.g. "Events:walletChanged" */
  name: string;
  /** the whole ONEWAY message, compact protocol, seqid = seq */
  message: Buffer;
}

export interface PushWindow {
  /** pushes kept per session */
  count: number;
  /** bytes kept per session (as stored) */
  bytes: number;
  /** how long a push is kept */
  ageMs: number;
}

/** Pushes fromSeq..toSeq cannot be replayed. */
export interface Missed {
  fromSeq: number;
  toSeq: number;
}

export interface Replay {
  pushes: StoredPush[];
  missed?: Missed;
  /** the newest seq assigned to the session */
  lastSeq: number;
}

/** What the store appends after "<seq> ". */
export function encodeEntry(atMs: number, name: string, message: Buffer): string {
  if (!/^[A-Za-z0-9_:]+$/.test(name)) throw new Error(`push name ${JSON.stringify(name)} is not "Service:method"`);
  return `${atMs} ${name} ${message.toString('base64')}`;
}

/** One stored "<seq> <atMs> <name> <base64>" entry; throws naming what is wrong. */
export function parseEntry(item: string): StoredPush {
  const parts = item.split(' ');
  if (parts.length !== 4) throw new Error(`push log entry has ${parts.length} fields, not 4`);
  const [seqText, atText, name, b64] = parts as [string, string, string, string];
  const seq = Number(seqText);
  const atMs = Number(atText);
  if (!Number.isSafeInteger(seq) || seq <= 0)
    throw new Error(`push log entry has a bad seq ${JSON.stringify(seqText)}`);
  if (!Number.isSafeInteger(atMs)) throw new Error(`push log entry has a bad time ${JSON.stringify(atText)}`);
  return { seq, atMs, name, message: Buffer.from(b64, 'base64') };
}

/**
 * What a reader that has seen everything up to `afterSeq` gets: the held pushes after it (at
 * most `max`, oldest first, none older than the window's age), and the range between afterSeq
 * and the first push still held, which is gone. A reader ahead of the stream (the session store
 * lost it) is told everything up to lastSeq is gone, so it resyncs instead of waiting forever.
 */
export function replayAfter(
  afterSeq: number,
  lastSeq: number,
  held: readonly StoredPush[],
  o: { nowMs: number; ageMs: number; max: number },
): Replay {
  if (afterSeq > lastSeq)
    return { pushes: [], lastSeq, ...(lastSeq > 0 ? { missed: { fromSeq: 1, toSeq: lastSeq } } : {}) };
  const oldest = o.nowMs - o.ageMs;
  const fresh = held.filter((p) => p.seq > afterSeq && p.atMs >= oldest).sort((a, b) => a.seq - b.seq);
  const first = fresh[0]?.seq ?? lastSeq + 1;
  const out: Replay = { pushes: fresh.slice(0, Math.max(0, o.max)), lastSeq };
  if (first > afterSeq + 1) out.missed = { fromSeq: afterSeq + 1, toSeq: first - 1 };
  return out;
}

/**
 * A receiver's position in the stream: accepts each seq once, in order. `offer` answers
 * 'deliver' for the next seq, 'duplicate' for one already had, and 'gap' when seqs are missing
 * before it (the receiver should read the stream from `last` before delivering).
 */
export class StreamCursor {
  constructor(public last = 0) {}

  offer(seq: number): 'deliver' | 'duplicate' | 'gap' {
    if (seq <= this.last) return 'duplicate';
    if (seq > this.last + 1) return 'gap';
    this.last = seq;
    return 'deliver';
  }

  /** After a missed range: everything up to toSeq counts as had. */
  skipTo(toSeq: number): void {
    if (toSeq > this.last) this.last = toSeq;
  }

  /** After delivering a replayed push. */
  advanceTo(seq: number): void {
    if (seq > this.last) this.last = seq;
  }
}
