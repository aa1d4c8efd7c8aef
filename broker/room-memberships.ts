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

export class RoomMemberships {
  constructor(
    private readonly kv: Kv,
    private readonly logger: Logger,
  ) {}

  /** topic -> role; empty when the store is unreachable (the client rejoins by itself). */
  async rooms(sessionId: string): Promise<Map<string, string>> {
    try {
      return new Map(Object.entries(await this.kv.hgetall(key(sessionId))));
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, sessionId }, 'session store unreachable: rooms not restored');
      return new Map();
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
