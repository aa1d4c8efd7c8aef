/**
 * A session's push stream in the session store (docs/pushes.md): each push gets the next seq of
 * the session and joins a bounded window, in one atomic round trip that also answers the broker
 * holding the session now (so the push goes there). Readers get the pushes after a seq, or the
 * range the window no longer holds.
 */
import type { Config } from '../config';
import type { Kv } from './kv';
import { BROKER_FIELD, PUSH_SEQ_FIELD, pushLogKey, sessionKey } from '../session-keys';
import { encodeEntry, parseEntry, replayAfter, type PushWindow, type Replay, type StoredPush } from '../push/stream';
import { withSeqid } from '../thrift/seqid';

/** As long as the session record itself (broker/session-store.ts): the seq outlives the window. */
const SESSION_TTL_MS = 24 * 3600 * 1000;

export function pushWindowOf(cfg: Config): PushWindow {
  return { count: cfg.pushWindowCount, bytes: cfg.pushWindowBytes, ageMs: cfg.pushWindowMs };
}

export interface Appended {
  seq: number;
  /** the broker the session is logged in on now, if any */
  broker: string | null;
}

export class PushLog {
  constructor(
    private readonly kv: Kv,
    readonly window: PushWindow,
    private readonly now: () => number = Date.now,
  ) {}

  /** Numbers `message` (an ONEWAY Events message) and keeps it in the session's window. */
  async append(sessionId: string, name: string, message: Buffer): Promise<Appended> {
    const r = await this.kv.logAppend(
      sessionKey(sessionId),
      pushLogKey(sessionId),
      encodeEntry(this.now(), name, message),
      {
        counter: PUSH_SEQ_FIELD,
        read: BROKER_FIELD,
        window: { count: this.window.count, bytes: this.window.bytes, ttlMs: this.window.ageMs },
        hashTtlMs: SESSION_TTL_MS,
      },
    );
    return { seq: r.seq, broker: r.field };
  }

  /** The pushes after `afterSeq` (messages carrying their seq as seqid), at most `max`. */
  async read(sessionId: string, afterSeq: number, max: number): Promise<Replay> {
    const snap = await this.kv.logRead(sessionKey(sessionId), PUSH_SEQ_FIELD, pushLogKey(sessionId));
    const held: StoredPush[] = [];
    for (const item of snap.entries) {
      const p = parseEntry(item);
      held.push({ ...p, message: withSeqid(p.message, p.seq & 0x7fffffff) });
    }
    return replayAfter(afterSeq, snap.seq, held, { nowMs: this.now(), ageMs: this.window.ageMs, max });
  }
}
