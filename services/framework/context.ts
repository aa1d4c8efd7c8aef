/** Builds the per-call context and binds the service's handlers to it. */
import { GameError } from '../../shared/protocol';
import { NoonError } from '../../shared/errors';
import { isConnectionLoss, sqlState } from '../../shared/data/sql';
import type { Logger } from '../../shared/log';
import type { Directive, RequestEnvelope } from '../../shared/wire/frames';
import type { ServiceCaller } from './caller';
import { serviceClients } from './clients';
import type { CallContext, ServiceDef } from './types';

export interface ContextDeps {
  role: string;
  instanceId: string;
  logger: Logger;
  caller: ServiceCaller;
  ownerOf(key: string): string | undefined;
}

// Nested calls keep the caller's `via`: it names the broker holding the session's connection,
// which is where any instance the call reaches must push to.
export function callContext(req: RequestEnvelope, directives: Directive[], deps: ContextDeps): CallContext {
  const deadline = Date.now() + req.timeoutMs;
  const log = deps.logger.child({ trace: req.traceId, method: req.method });
  let clients: CallContext['services'] | undefined;
  const meta = (instanceId?: string) => () => ({ sessionId: ctx.sessionId, userId: ctx.userId, traceId: req.traceId, via: req.via, deadline, ...(instanceId ? { instanceId } : {}) });
  const collect = (ds: Directive[]): void => void directives.push(...ds);
  const ctx: CallContext = {
    traceId: req.traceId,
    sessionId: req.sessionId,
    userId: req.userId,
    via: req.via,
    deadline,
    log,
    instanceId: deps.instanceId,
    get services() {
      clients ??= serviceClients(deps.caller, meta(), collect);
      return clients;
    },
    servicesAt: (instanceId) => serviceClients(deps.caller, meta(instanceId), collect),
    ownerOf: (key) => deps.ownerOf(key),
    authenticate: (s) => {
      ctx.sessionId = s.sessionId;
      ctx.userId = s.userId;
      directives.push({ type: 'auth', ...s });
    },
    logout: () => directives.push({ type: 'logout' }),
    bind: (sessionId = ctx.sessionId, instanceId = deps.instanceId) => directives.push({ type: 'bind', service: deps.role, instanceId, sessionId }),
    unbind: (sessionId = ctx.sessionId) => directives.push({ type: 'unbind', service: deps.role, sessionId }),
    subscribe: (topic, publisher = deps.instanceId) => directives.push({ type: 'subscribe', topic, instanceId: publisher }),
    unsubscribe: (topic) => directives.push({ type: 'unsubscribe', topic }),
  };
  return ctx;
}

/** Pool exhausted, connection lost, statement timed out: the caller may retry (idempotency keys make it safe). */
function isUnavailableDb(err: unknown): boolean {
  const state = sqlState(err);
  return isConnectionLoss(err) || state === '57014' || /timeout exceeded when trying to connect|Query read timeout/i.test(err instanceof Error ? err.message : '');
}

/**
 * The generated IHandler for one call: each method forwards to the service's handler with the
 * context appended. Errors other than GameError/NoonError are logged with the trace id and
 * reach the caller as INTERNAL without internal detail.
 */
export function boundHandler<H>(def: ServiceDef<H>, ctx: CallContext): H {
  const bound: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
  for (const [name, fn] of Object.entries(def.handlers as unknown as Record<string, (...args: unknown[]) => unknown>)) {
    bound[name] = async (...args: unknown[]) => {
      try {
        return await fn(...args, ctx);
      } catch (err) {
        if (err instanceof GameError || err instanceof NoonError) throw err;
        if (isUnavailableDb(err)) {
          ctx.log.warn({ err: (err as Error).message }, 'database unavailable');
          throw new NoonError('UNAVAILABLE', `${def.thriftService}:${name}: database unavailable (trace ${ctx.traceId})`);
        }
        ctx.log.error({ err }, 'handler failed');
        throw new NoonError('INTERNAL', `${def.thriftService}:${name} failed (trace ${ctx.traceId})`);
      }
    };
  }
  return bound as unknown as H;
}
