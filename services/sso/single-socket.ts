/**
 * Single socket per session across brokers: on resume, the broker that last held the session
 * (the shared session store says which) is told to close its connection, after delivering an
 * Events:kicked. Best effort: a store that cannot be read only leaves the old connection to its
 * idle deadline.
 */
import type { Kv } from '../../shared/data/kv';
import { BROKER_FIELD, sessionKey } from '../../shared/session-keys';
import { events } from '../../shared/thrift/events';
import type { ServiceEnv } from '../../rpc/api';

export function kickElsewhere(env: ServiceEnv, kv: Kv): (sessionId: string, via: string) => Promise<void> {
  return async (sessionId, via) => {
    let previous: string | null;
    try {
      previous = await kv.hget(sessionKey(sessionId), BROKER_FIELD);
    } catch (err) {
      env.logger.debug(
        { err: (err as Error).message },
        'session store unreadable: old connection left to its idle deadline',
      );
      return;
    }
    if (previous === null || previous === via) return;
    const reason = 'session resumed on another broker';
    env.push(sessionId, events.kicked(reason), [env.directives.close(reason)], previous);
  };
}
