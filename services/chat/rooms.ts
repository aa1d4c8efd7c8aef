/**
 * What the owner of a room does (the rendezvous owner among live chat instances): number the
 * room's messages 1, 2, 3 … with no gaps, persist each (Postgres, PK(room_id, seq)), append it
 * to the recent history and publish it once, in seq order, on this instance's PUB.
 *
 * Messages of one room are handled one at a time (a promise chain per room), so a seq is used
 * only after its row committed and publication order is seq order. The counter starts from
 * Postgres max(seq) on first use, so a new owner continues the sequence; if another instance
 * numbered the room meanwhile (ownership moved and back, or two owners during a membership
 * change) the insert hits the primary key, and the counter is re-read and the insert retried.
 */
import type { Db } from '../../shared/data/sql';
import { sqlState } from '../../shared/data/sql';
import type { Logger } from '../../shared/log';
import { ChatMessage, ErrorCode, GameError } from '../../shared/protocol';
import { events } from '../../shared/thrift/events';
import type { ServiceEnv } from '../../rpc/api';
import type { RecentHistory } from './recent';
import { insertMessage, maxSeq, type Message } from './store';

const INSERT_ATTEMPTS = 3;

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

export class RoomOwner {
  /** room -> last seq this instance committed (absent: read Postgres on next use) */
  private readonly counters = new Map<string, number>();
  /** room -> tail of its message chain */
  private readonly chains = new Map<string, Promise<unknown>>();

  constructor(
    private readonly env: ServiceEnv,
    private readonly db: Db,
    private readonly recent: RecentHistory,
    private readonly log: Logger,
  ) {}

  /** The room's last seq as this owner knows it (Postgres on first use). */
  async lastSeq(roomId: string): Promise<number> {
    const known = this.counters.get(roomId);
    if (known !== undefined) return known;
    const m = await maxSeq(this.db, roomId);
    this.counters.set(roomId, m);
    return m;
  }

  say(roomId: string, userId: string, username: string, text: string): Promise<Message> {
    return this.serially(roomId, async () => {
      const m = await this.commit(roomId, userId, username, text);
      await this.recent.append(m);
      if (!this.env.publish(topicOf(roomId), m.seq, events.chatMessage(toChatMessage(m)))) {
        // Committed but not published (queue full): members repair the gap from history.
        this.log.warn({ room: roomId, seq: m.seq }, 'room publish queue full');
      }
      return m;
    });
  }

  private async commit(roomId: string, userId: string, username: string, text: string): Promise<Message> {
    for (let attempt = 1; ; attempt++) {
      const seq = (await this.lastSeq(roomId)) + 1;
      const m: Message = { roomId, seq, userId, username, text, sentAtMs: Date.now() };
      try {
        await insertMessage(this.db, m);
        this.counters.set(roomId, seq);
        return m;
      } catch (err) {
        this.counters.delete(roomId);
        if (sqlState(err) !== '23505') throw err;
        this.log.info({ room: roomId, seq, attempt }, 'seq taken by another owner; re-reading the counter');
        if (attempt >= INSERT_ATTEMPTS)
          throw new GameError({
            code: ErrorCode.CONFLICT,
            message: `room ${roomId} is being numbered elsewhere; retry`,
            retryable: true,
          });
      }
    }
  }

  private serially<T>(roomId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(roomId) ?? Promise.resolve();
    const next = prev.then(fn);
    const tail = next.catch(() => undefined);
    this.chains.set(roomId, tail);
    // Forget an idle room's chain so the map does not grow with every room ever used.
    void tail.then(() => {
      if (this.chains.get(roomId) === tail) this.chains.delete(roomId);
    });
    return next;
  }
}
