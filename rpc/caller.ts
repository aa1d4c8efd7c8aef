/**
 * Awaitable service-to-service calls resolved through Yellow: the least-loaded live instance of
 * the target service (least in-flight from this process, then its reported load), a deadline on
 * every call, and one retry on another instance when the call never reached its instance, or
 * the instance died under it and the method is declared idempotent. Otherwise UNAVAILABLE.
 */
import { NoonError, isNoonError } from '../shared/errors';
import type { InstanceRecord } from '../yellow/types';
import { type Links, NotDelivered } from './links';
import type { ReplyEnvelope } from '../shared/wire/frames';

/** The part of Yellow's Directory the framework needs. */
export interface InstanceSource {
  instances(filter?: { role?: string; thriftService?: string }): InstanceRecord[];
}

export interface CallMeta {
  sessionId: string;
  userId: string;
  /** the session's display name; '' when none */
  username?: string;
  traceId: string;
  via: string;
  /** absolute deadline, Date.now() ms */
  deadline: number;
  /** call exactly this instance (a room's or a match's owner); no fallback to another */
  instanceId?: string;
}

export function pickLeastLoaded(
  candidates: InstanceRecord[],
  links: Links,
  exclude: ReadonlySet<string>,
): InstanceRecord | undefined {
  let best: InstanceRecord | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    if (exclude.has(c.instanceId) || !c.endpoints.router || links.isSuspect(c.instanceId)) continue;
    // Our own in-flight count is exact and current; the reported load breaks ties across callers.
    const score = links.inFlight(c.instanceId) * 1000 + c.load.inFlight + Math.random();
    if (score < bestScore) {
      best = c;
      bestScore = score;
    }
  }
  return best;
}

function pinned(
  candidates: InstanceRecord[],
  instanceId: string,
  tried: ReadonlySet<string>,
): InstanceRecord | undefined {
  if (tried.has(instanceId)) return undefined;
  const c = candidates.find((r) => r.instanceId === instanceId);
  if (!c) throw new NoonError('UNAVAILABLE', `instance ${instanceId} is not live`);
  return c;
}

export class ServiceCaller {
  constructor(
    private readonly directory: InstanceSource,
    readonly links: Links,
  ) {}

  /** Sends a Thrift message to `thriftService`; resolves with the reply envelope. */
  async call(thriftService: string, method: string, payload: Buffer, meta: CallMeta): Promise<ReplyEnvelope> {
    const tried = new Set<string>();
    for (let attempt = 0; attempt < 2; attempt++) {
      const candidates = this.directory.instances({ thriftService });
      const target =
        meta.instanceId === undefined
          ? pickLeastLoaded(candidates, this.links, tried)
          : pinned(candidates, meta.instanceId, tried);
      if (!target?.endpoints.router) {
        throw new NoonError(
          'UNAVAILABLE',
          `${thriftService} has no live instance${tried.size ? ` besides ${[...tried].join(', ')}` : ''}`,
        );
      }
      tried.add(target.instanceId);
      const timeoutMs = meta.deadline - Date.now();
      if (timeoutMs <= 0)
        throw new NoonError('TIMEOUT', `${thriftService}:${method} deadline passed before it was sent`);
      try {
        return await this.links.request(
          { instanceId: target.instanceId, router: target.endpoints.router },
          {
            timeoutMs,
            sessionId: meta.sessionId,
            userId: meta.userId,
            username: meta.username ?? '',
            method: `${thriftService}:${method}`,
            via: meta.via,
            traceId: meta.traceId,
            payload,
          },
        );
      } catch (err) {
        const idempotent = target.service?.idempotentMethods.includes(method) ?? false;
        const retry = err instanceof NotDelivered || (idempotent && isNoonError(err, 'UNAVAILABLE'));
        if (!retry || attempt === 1) throw err;
      }
    }
    throw new NoonError('UNAVAILABLE', `${thriftService}:${method} failed on every instance tried`);
  }
}
