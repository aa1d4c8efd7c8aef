/**
 * A session's rooms, kept in the shared store beside the session record (`sess:{<session>}:rooms`,
 * topic -> publishing role): they belong to the session, not to a connection, so a client that
 * resumes on any broker is a member again before its resume is answered. Written when a
 * service subscribes or unsubscribes the session; a dropped connection leaves them as they are.
 */
import type { Kv } from '../shared/data/kv';
import type { Logger } from '../shared/log';
import { sessionKey } from '../shared/session-keys';

const TTL_MS = 24 * 3600 * 1000;
const key = (sessionId: string): string => `${sessionKey(sessionId)}:rooms`;

/** How a resume whose rooms could not be read tries again: every RETRY_MS, for up to RETRY_FOR_MS. */
export const RESTORE_RETRY_MS = 1000;
export const RESTORE_RETRY_FOR_MS = 120_000;

export class RoomMemberships {
  constructor(
    private readonly kv: Kv,
    private readonly logger: Logger,
    private readonly retry = { everyMs: RESTORE_RETRY_MS, forMs: RESTORE_RETRY_FOR_MS },
  ) {}

  /** topic -> role; undefined when the store is unreachable (so the rooms are not known). */
  async rooms(sessionId: string): Promise<Map<string, string> | undefined> {
    try {
      return new Map(Object.entries(await this.kv.hgetall(key(sessionId))));
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, sessionId }, 'session store unreachable: rooms not restored yet');
      return undefined;
    }
  }

  /**
   * Restores a resumed session's rooms: at once when the store answers, else by reading again
   * every few seconds while `wanted()` holds (the connection is still this session's). A member
   * that joins late sees a gap in its room's seqs and repairs it from history, so nothing said
   * meanwhile is lost; without the retry, a resume during a store outage left the session in no
   * room, silently, for good. Resolves once the rooms are joined or the retry gives up.
   */
  async restore(sessionId: string, wanted: () => boolean, join: (topic: string, role: string) => void): Promise<void> {
    const deadline = Date.now() + this.retry.forMs;
    for (;;) {
      const rooms = await this.rooms(sessionId);
      if (!wanted()) return;
      if (rooms) {
        for (const [topic, role] of rooms) join(topic, role);
        return;
      }
      if (Date.now() >= deadline) {
        this.logger.warn({ sessionId }, 'session store unreachable: rooms not restored; the client must join again');
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, this.retry.everyMs).unref());
    }
  }

  /** Fire and forget, like the session's other fields. */
  set(sessionId: string, topic: string, role: string | undefined): void {
    const k = key(sessionId);
    const write =
      role === undefined ? this.kv.hdel(k, topic) : this.kv.hset(k, topic, role).then(() => this.kv.expire(k, TTL_MS));
    write.catch((err: Error) => this.logger.debug({ err: err.message, sessionId }, 'room membership not stored'));
  }
}
