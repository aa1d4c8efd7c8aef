/**
 * Session bindings kept in the shared store (Redis, or the in-process store in `noon up`), so a
 * client that resumes on another broker keeps them. Redis holds only what can be re-derived:
 * when it is unreachable the broker keeps serving from its local copy and rendezvous hashing.
 */
import type { Kv } from '../shared/data/kv';
import type { Logger } from '../shared/log';
import { BROKER_FIELD, sessionKey } from '../shared/session-keys';

const TTL_MS = 24 * 3600 * 1000;
const key = sessionKey;

export class SessionStore {
  constructor(
    private readonly kv: Kv,
    private readonly logger: Logger,
  ) {}

  async bindings(sessionId: string): Promise<Map<string, string>> {
    try {
      const all = await this.kv.hgetall(key(sessionId));
      const out = new Map<string, string>();
      for (const [field, value] of Object.entries(all)) if (field.startsWith('bind:')) out.set(field.slice(5), value);
      return out;
    } catch (err) {
      this.logger.warn(
        { err: (err as Error).message, sessionId },
        'session store unreachable: bindings fall back to rendezvous',
      );
      return new Map();
    }
  }

  /** Fire and forget: a lost write only costs a re-derivation later. */
  setBinding(sessionId: string, role: string, instanceId: string | undefined): void {
    const k = key(sessionId);
    const write =
      instanceId === undefined
        ? this.kv.hdel(k, `bind:${role}`)
        : this.kv.hset(k, `bind:${role}`, instanceId).then(() => this.kv.expire(k, TTL_MS));
    write.catch((err: Error) => this.logger.debug({ err: err.message, sessionId }, 'binding not stored'));
  }

  setBroker(sessionId: string, brokerId: string): void {
    const k = key(sessionId);
    this.kv
      .hset(k, BROKER_FIELD, brokerId)
      .then(() => this.kv.expire(k, TTL_MS))
      .catch((err: Error) => this.logger.debug({ err: err.message }, 'session broker not stored'));
  }
}
