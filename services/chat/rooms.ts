/**
 * What the owner of a room does (the rendezvous owner among live chat instances): number the
 * room's messages 1, 2, 3 … with no gaps, persist them, append them to the recent history and
 * publish each once, in seq order, on this instance's PUB.
 *
 * Fencing: an owner numbers a room only under the room's lease (chat_room_leases), taken by
 * raising its epoch; every insert checks the epoch in the same statement. When ownership moves
 * (an instance joins, drains or dies) the new owner takes the lease, which waits for the old
 * owner's in-flight insert and then fences it out: at no moment do two owners store messages of
 * one room, and the new owner continues from max(seq) without a gap. An owner that finds its
 * lease gone takes it back only while it still believes it owns the room; otherwise it refuses
 * the messages it holds with a retryable UNAVAILABLE (they were never stored).
 *
 * Backpressure: each room has a bounded queue of messages waiting to be stored; a full queue
 * answers BUSY at once (cheap, constant work) instead of letting work pile up in the process.
 * The queue is stored in batches (one INSERT per batch), which is what lets one room take
 * thousands of messages per second.
 *
 * Once: a say carrying a request key (its session and the client's request id) is stored at most
 * once per room. A retry whose first attempt was stored gets that first message back, and is not
 * stored, numbered or published again.
 */
import type { Db } from '../../shared/data/sql';
import { sqlState } from '../../shared/data/sql';
import { NoonError } from '../../shared/errors';
import type { Logger } from '../../shared/log';
import { ChatMessage } from '../../shared/protocol';
import { events } from '../../shared/thrift/events';
import type { ServiceEnv } from '../../rpc/api';
import type { RecentHistory } from './recent';
import { RoomRate } from './room-rate';
import { insertFenced, maxSeq, takeLease, type Message, type NewMessage } from './store';

/** A batch entry's outcome: its message, and whether this batch stored it (else it was stored before). */
interface Outcome {
  message: Message;
  fresh: boolean;
}

/** Messages stored by one INSERT at most. */
const MAX_BATCH = 512;
/** Lease takes (or seq collisions) one batch may go through before its senders are refused. */
const COMMIT_ATTEMPTS = 3;

export const topicOf = (roomId: string): string => `chat/${roomId}`;

export function toChatMessage(m: Message): ChatMessage {
  return new ChatMessage({
    roomId: m.roomId,
    seq: m.seq,
    userId: m.userId,
    username: m.username,
    text: m.text,
    sentAtMs: m.sentAtMs,
  });
}

/**
 * The refusal of a full room. A flooded room answers thousands of these a second while its
 * other rooms must keep going: it is made without a stack trace (nobody reads one, and capturing
 * it was the largest single cost of a refusal).
 */
function busy(roomId: string, waiting: number): NoonError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new NoonError('BUSY', `room ${roomId} has ${waiting} messages waiting at its owner; retry later`);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

interface Waiting {
  msg: NewMessage;
  resolve(m: ChatMessage): void;
  reject(err: Error): void;
}

interface RoomState {
  waiting: Waiting[];
  storing: boolean;
  /** the room's share of this owner: messages it may store per second */
  rate: RoomRate;
  /** the lease epoch this instance holds, undefined = take it before the next insert */
  epoch?: number;
  /** the last seq stored under that epoch */
  lastSeq: number;
}

export interface RoomOwnerOptions {
  /** messages one room may have waiting to be stored (cfg.chatRoomQueue) */
  maxQueued: number;
  /** messages of one room stored per second at most, a second's worth at once (cfg.chatRoomRate) */
  ratePerSec: number;
  /** a sender was answered BUSY */
  onBusy?(roomId: string): void;
  /** a stored message could not be queued on the PUB (members repair it from history) */
  onUnpublished?(roomId: string, seq: number): void;
}

export class RoomOwner {
  private readonly rooms = new Map<string, RoomState>();

  constructor(
    private readonly env: ServiceEnv,
    private readonly db: Db,
    private readonly recent: RecentHistory,
    private readonly log: Logger,
    private readonly opts: RoomOwnerOptions,
  ) {}

  /** The room's last seq: this owner's counter while it holds the lease, else Postgres. */
  async lastSeq(roomId: string): Promise<number> {
    const st = this.rooms.get(roomId);
    if (st?.epoch !== undefined) return st.lastSeq;
    return maxSeq(this.db, roomId);
  }

  /** Messages waiting to be stored, over all rooms (for tests and load reports). */
  get queued(): number {
    let n = 0;
    for (const st of this.rooms.values()) n += st.waiting.length;
    return n;
  }

  /** BUSY (counted) when the room's queue here is full, else undefined: a say would be refused. */
  refusal(roomId: string): NoonError | undefined {
    const waiting = this.rooms.get(roomId)?.waiting.length ?? 0;
    if (waiting < this.opts.maxQueued) return undefined;
    this.opts.onBusy?.(roomId);
    return busy(roomId, waiting);
  }

  /**
   * The stored message, as published (the same struct answers the sender). With a requestKey,
   * a say already stored under it answers with its first message.
   */
  say(roomId: string, userId: string, username: string, text: string, requestKey?: string): Promise<ChatMessage> {
    let st = this.rooms.get(roomId);
    if (!st) {
      st = { waiting: [], storing: false, rate: new RoomRate(this.opts.ratePerSec, Date.now()), lastSeq: 0 };
      this.rooms.set(roomId, st);
    }
    const full = this.refusal(roomId);
    if (full) return Promise.reject(full);
    const room = st;
    return new Promise<ChatMessage>((resolve, reject) => {
      room.waiting.push({
        msg: { userId, username, text, ...(requestKey !== undefined && { requestKey }) },
        resolve,
        reject,
      });
      if (!room.storing) void this.store(roomId, room);
    });
  }

  /**
   * Stores the room's queue batch by batch, as fast as the room's rate lets it (a room over its
   * rate waits here, its queue full, its senders answered BUSY); publication order is seq order.
   */
  private async store(roomId: string, st: RoomState): Promise<void> {
    st.storing = true;
    try {
      while (st.waiting.length > 0) {
        const now = Date.now();
        const want = Math.min(st.waiting.length, MAX_BATCH);
        const n = st.rate.take(want, now);
        if (n === 0) {
          await new Promise<void>((resolve) => setTimeout(resolve, st.rate.delayMs(want, now)));
          continue;
        }
        const batch = st.waiting.splice(0, n);
        let stored: Outcome[];
        try {
          // sent_at is the moment the batch took its share: Postgres then shows the rate kept.
          stored = await this.commit(
            roomId,
            st,
            batch.map((w) => w.msg),
            now,
          );
        } catch (err) {
          for (const w of batch) w.reject(err as Error);
          continue;
        }
        await this.finish(roomId, batch, stored);
      }
    } finally {
      st.storing = false;
    }
  }

  /**
   * A stored batch: what it stored appended to the recent list and published in seq order, every
   * sender answered (a retry of an earlier say with that say's first message).
   */
  private async finish(roomId: string, batch: Waiting[], outcomes: Outcome[]): Promise<void> {
    const fresh = outcomes.filter((o) => o.fresh).map((o) => o.message);
    // append() handles its own failures (it drops the cached list); the batch is stored either way
    if (fresh.length > 0)
      await this.recent
        .append(roomId, fresh)
        .catch((err: unknown) =>
          this.log.warn({ err: (err as Error).message, room: roomId }, 'recent history append failed'),
        );
    const topic = topicOf(roomId);
    for (const [i, o] of outcomes.entries()) {
      const msg = toChatMessage(o.message);
      if (o.fresh && !this.env.publish(topic, o.message.seq, events.chatMessage(msg)))
        this.opts.onUnpublished?.(roomId, o.message.seq);
      (batch[i] as Waiting).resolve(msg);
    }
  }

  /**
   * Stores a batch under the room's lease; returns each entry's outcome in batch order. Entries
   * that repeat an earlier entry's key share its outcome and are sent to Postgres once.
   */
  private async commit(roomId: string, st: RoomState, batch: NewMessage[], sentAtMs: number): Promise<Outcome[]> {
    const firstWithKey = new Map<string, number>();
    const unique: NewMessage[] = [];
    const slot = batch.map((m) => {
      const seen = m.requestKey === undefined ? undefined : firstWithKey.get(m.requestKey);
      if (seen !== undefined) return seen;
      if (m.requestKey !== undefined) firstWithKey.set(m.requestKey, unique.length);
      unique.push(m);
      return unique.length - 1;
    });
    const outcomes = await this.commitUnique(roomId, st, unique, sentAtMs);
    const told = new Set<number>();
    return slot.map((j) => {
      const o = outcomes[j] as Outcome;
      // a repeat inside the batch gets the first entry's message, not a second copy of it
      const first = !told.has(j);
      told.add(j);
      return first ? o : { message: o.message, fresh: false };
    });
  }

  private async commitUnique(roomId: string, st: RoomState, msgs: NewMessage[], sentAtMs: number): Promise<Outcome[]> {
    for (let attempt = 1; ; attempt++) {
      if (st.epoch === undefined) {
        st.epoch = await takeLease(this.db, roomId, this.env.instanceId);
        // Read after the lease committed: every insert of an earlier holder is in, none can follow.
        st.lastSeq = await maxSeq(this.db, roomId);
        this.log.debug({ room: roomId, epoch: st.epoch, lastSeq: st.lastSeq }, 'room lease taken');
      }
      const first = st.lastSeq + 1;
      let r: Awaited<ReturnType<typeof insertFenced>>;
      try {
        r = await insertFenced(this.db, roomId, st.epoch, first, sentAtMs, msgs);
      } catch (err) {
        st.epoch = undefined;
        if (sqlState(err) !== '23505' || attempt >= COMMIT_ATTEMPTS) throw err;
        continue;
      }
      if (!r.fenced) {
        st.lastSeq += r.inserted;
        let next = first;
        return msgs.map(({ userId, username, text }, i) => {
          const before = r.stored.get(i);
          if (before) return { message: { roomId, userId, username, text, ...before }, fresh: false };
          return { message: { roomId, seq: next++, userId, username, text, sentAtMs }, fresh: true };
        });
      }
      st.epoch = undefined;
      const owner = this.env.ownerOf(roomId);
      this.log.info({ room: roomId, owner, attempt }, 'room lease taken by another instance');
      if ((owner !== undefined && owner !== this.env.instanceId) || attempt >= COMMIT_ATTEMPTS)
        throw new NoonError('UNAVAILABLE', `room ${roomId} moved to another chat instance; send again`);
    }
  }
}
