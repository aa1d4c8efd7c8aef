/**
 * Awaitable service-to-service calls resolved through Yellow: the least-loaded live instance of
 * the target service (least in-flight from this process, then its reported load), a deadline on
 * every call, and one retry on another instance when the call never reached its instance, or
 * the instance died under it and the method is declared idempotent. Otherwise UNAVAILABLE, or
 * TIMEOUT (outcome unknown) when an attempt may have run on an instance that went away under it.
 */
import { NoonError, isNoonError } from '../shared/errors';
import type { InstanceRecord } from '../yellow/types';
import { type Links, mayHaveRun, NotDelivered } from './links';
import type { ReplyEnvelope } from '../shared/wire/frames';
import { replyOutcome } from '../shared/thrift/reply-outcome';
import { callSpan, type CallSpan, type CallTracer } from '../shared/trace/tracer';

/** The part of Yellow's Directory the framework needs. */
export interface InstanceSource {
  instances(filter?: { role?: string; thriftService?: string }): InstanceRecord[];
  /** instance arrivals, so a call made before discovery caught up can wait for one */
  on?(event: 'up', listener: (record: InstanceRecord) => void): unknown;
  off?(event: 'up', listener: (record: InstanceRecord) => void): unknown;
}

/**
 * How long a call waits for a first instance of its service to be discovered. Services start in
 * any order: a call made in the first moments after a dependency started must not fail because
 * this process has not heard of it yet. Bounded by the call's own deadline too.
 */
export const DISCOVERY_WAIT_MS = 2000;

export interface CallMeta {
  sessionId: string;
  userId: string;
  /** the session's display name; '' when none */
  username?: string;
  traceId: string;
  /** the span nested calls are children of (the SERVER span of the call making them), when traced */
  span?: CallSpan;
  via: string;
  /** absolute deadline, Date.now() ms */
  deadline: number;
  /** call exactly this instance (a room's or a match's owner); no fallback to another */
  instanceId?: string;
  /**
   * the client's id of this call, for a caller that stands where a broker does (a gateway of
   * the studio's, a test); nested calls made through a call's context carry none (docs/retries.md)
   */
  clientRequestId?: string;
}

const SUSPECT_PENALTY = 1e12;

/** Services call each other on the ROUTER for services (internal methods allowed), not the brokers' one. */
export function serviceEndpointOf(r: InstanceRecord): string | undefined {
  return r.endpoints.internal ?? r.endpoints.router;
}

export function pickLeastLoaded(
  candidates: InstanceRecord[],
  links: Links,
  exclude: ReadonlySet<string>,
): InstanceRecord | undefined {
  let best: InstanceRecord | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    if (exclude.has(c.instanceId) || !serviceEndpointOf(c)) continue;
    // Our own in-flight count is exact and current; the reported load breaks ties across callers.
    // A suspect (its connection dropped lately) is a last resort, not banned: when it is the only
    // instance, trying it beats refusing every call until the mark expires.
    const penalty = links.isSuspect(c.instanceId) ? SUSPECT_PENALTY : 0;
    const score = penalty + links.inFlight(c.instanceId) * 1000 + c.load.inFlight + Math.random();
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
    /** a CLIENT span per call when set (docs/traces.md) */
    private readonly tracer?: CallTracer,
  ) {}

  /** Sends a Thrift message to `thriftService`; resolves with the reply envelope. */
  async call(thriftService: string, method: string, payload: Buffer, meta: CallMeta): Promise<ReplyEnvelope> {
    if (!this.tracer) return this.attempts(thriftService, method, payload, meta, meta.traceId);
    const { name, attributes } = callSpan(`${thriftService}:${method}`);
    // A call made outside any traced call (a timer's) starts a trace of its own.
    const span = this.tracer.start(name, 'client', meta.span, {
      ...attributes,
      ...(meta.userId ? { 'noon.user': meta.userId } : {}),
      'noon.request.bytes': payload.length,
    });
    try {
      const reply = await this.attempts(thriftService, method, payload, meta, span.traceparent);
      span.end(reply.error ? reply.error.code : replyOutcome(reply.payload), {
        'noon.reply.bytes': reply.payload.length,
      });
      return reply;
    } catch (err) {
      span.end(err instanceof NoonError ? err.code : 'INTERNAL');
      throw err;
    }
  }

  private async attempts(
    thriftService: string,
    method: string,
    payload: Buffer,
    meta: CallMeta,
    /** the envelope's trace field: the trace id, or the CLIENT span's traceparent */
    traceField: string,
  ): Promise<ReplyEnvelope> {
    const tried = new Set<string>();
    /** an instance an earlier attempt may have run on: a later refusal must not read as "not applied" */
    let ranAt: string | undefined;
    const unknown = (err: NoonError): NoonError =>
      ranAt === undefined || err.code === 'TIMEOUT'
        ? err
        : new NoonError('TIMEOUT', `outcome unknown: the call may have run on ${ranAt} (${err.message})`);
    for (let attempt = 0; attempt < 2; attempt++) {
      let candidates = this.directory.instances({ thriftService });
      if (candidates.length === 0 && attempt === 0) {
        await this.discovered(thriftService, meta.deadline);
        candidates = this.directory.instances({ thriftService });
      }
      // A rolling deploy runs several releases: prefer those that serve the method (when none
      // announces it, the callee's own unknown-method answer is the clearest error).
      const serving = candidates.filter((c) => c.service?.methods.includes(method));
      if (serving.length > 0) candidates = serving;
      const target =
        meta.instanceId === undefined
          ? pickLeastLoaded(candidates, this.links, tried)
          : pinned(candidates, meta.instanceId, tried);
      const router = target ? serviceEndpointOf(target) : undefined;
      if (!target || !router) {
        throw unknown(
          new NoonError(
            'UNAVAILABLE',
            `${thriftService} has no live instance${tried.size ? ` besides ${[...tried].join(', ')}` : ''}`,
          ),
        );
      }
      tried.add(target.instanceId);
      const timeoutMs = meta.deadline - Date.now();
      if (timeoutMs <= 0)
        throw new NoonError('TIMEOUT', `${thriftService}:${method} deadline passed before it was sent`);
      try {
        const reply = await this.links.request(
          { instanceId: target.instanceId, router, ...(target.curveKey ? { serverKey: target.curveKey } : {}) },
          {
            timeoutMs,
            sessionId: meta.sessionId,
            userId: meta.userId,
            username: meta.username ?? '',
            method: `${thriftService}:${method}`,
            via: meta.via,
            traceId: traceField,
            ...(meta.clientRequestId !== undefined && { clientRequestId: meta.clientRequestId }),
            payload,
          },
        );
        return reply.error ? { ...reply, error: unknown(reply.error) } : reply;
      } catch (err) {
        const idempotent = target.service?.idempotentMethods.includes(method) ?? false;
        const retry = err instanceof NotDelivered || (idempotent && isNoonError(err, 'UNAVAILABLE'));
        if (ranAt === undefined && mayHaveRun(err)) ranAt = target.instanceId;
        if (!retry || attempt === 1) throw err instanceof NoonError ? unknown(err) : err;
      }
    }
    throw unknown(new NoonError('UNAVAILABLE', `${thriftService}:${method} failed on every instance tried`));
  }

  /** Resolves once the directory lists an instance of the service, or the discovery wait ends. */
  private discovered(thriftService: string, deadline: number): Promise<void> {
    const { directory } = this;
    const waitMs = Math.min(DISCOVERY_WAIT_MS, deadline - Date.now());
    if (waitMs <= 0 || !directory.on || !directory.off) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        directory.off?.('up', onUp);
        resolve();
      };
      const onUp = (record: InstanceRecord): void => {
        if (record.service?.thriftService === thriftService) done();
      };
      const timer = setTimeout(done, waitMs);
      directory.on?.('up', onUp);
    });
  }
}
