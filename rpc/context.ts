/**
 * The per-call context, and the one handler object a service's Processor is built with. Calls
 * are hot: the context is a class (no per-call closures) whose logger and clients are made only
 * if the handler uses them.
 */
import { GameError } from '../shared/protocol';
import { NoonError, noonErrorOfNested } from '../shared/errors';
import { isConnectionLoss, sqlState } from '../shared/data/sql';
import type { Logger } from '../shared/log';
import { errorCause, type LogLimiter } from '../shared/log-limit';
import type { Directive, RequestEnvelope } from '../shared/wire/frames';
import type { CallSpan } from '../shared/trace/tracer';
import type { CallMeta, ServiceCaller } from './caller';
import { serviceClients, type ServiceClients } from './clients';
import type { CallContext, ServiceDef } from './api';

export interface ContextDeps {
  role: string;
  instanceId: string;
  logger: Logger;
  caller: ServiceCaller;
  ownerOf(key: string): string | undefined;
  push(sessionId: string, payload: Buffer, directives: Directive[], via: string): boolean;
}

class Context implements CallContext {
  readonly traceId: string;
  sessionId: string;
  userId: string;
  username: string;
  readonly via: string;
  readonly deadline: number;
  readonly instanceId: string;
  readonly clientRequestId: string | undefined;
  private logger?: Logger;
  private clients?: ServiceClients;

  constructor(
    private readonly req: RequestEnvelope,
    readonly directives: Directive[],
    private readonly deps: ContextDeps,
    private readonly trace: CallTrace,
  ) {
    this.traceId = trace.traceId;
    this.sessionId = req.sessionId;
    this.userId = req.userId;
    this.username = req.username;
    // Nested calls keep the caller's `via`: it names the broker holding the session's connection,
    // which is where any instance the call reaches must push to.
    this.via = req.via;
    this.deadline = Date.now() + req.timeoutMs;
    this.instanceId = deps.instanceId;
    this.clientRequestId = req.clientRequestId;
  }

  get log(): Logger {
    this.logger ??= this.deps.logger.child({ trace: this.traceId, method: this.req.method });
    return this.logger;
  }

  get services(): ServiceClients {
    this.clients ??= this.servicesAt();
    return this.clients;
  }

  servicesAt(instanceId?: string, opts: { forwarding?: boolean } = {}): ServiceClients {
    const requestId = opts.forwarding === true ? this.clientRequestId : undefined;
    const meta = (): CallMeta => ({
      sessionId: this.sessionId,
      userId: this.userId,
      username: this.username,
      traceId: this.traceId,
      ...(this.trace.span ? { span: this.trace.span } : {}),
      via: this.via,
      deadline: this.deadline,
      ...(instanceId ? { instanceId } : {}),
      ...(requestId !== undefined && { clientRequestId: requestId }),
    });
    return serviceClients(this.deps.caller, meta, (ds) => void this.directives.push(...ds));
  }

  ownerOf(key: string): string | undefined {
    return this.deps.ownerOf(key);
  }

  authenticate(s: { sessionId: string; userId: string; username: string }): void {
    this.sessionId = s.sessionId;
    this.userId = s.userId;
    this.username = s.username;
    this.directives.push({ type: 'auth', sessionId: s.sessionId, userId: s.userId, username: s.username });
  }

  logout(): void {
    this.directives.push({ type: 'logout' });
  }

  bind(sessionId = this.sessionId, instanceId = this.deps.instanceId): void {
    this.directives.push({ type: 'bind', service: this.deps.role, instanceId, sessionId });
  }

  unbind(sessionId = this.sessionId): void {
    this.directives.push({ type: 'unbind', service: this.deps.role, sessionId });
  }

  subscribe(topic: string, publisher = this.deps.instanceId): void {
    this.directives.push({ type: 'subscribe', topic, instanceId: publisher });
  }

  subscribeChannel(topic: string, filter: string, afterSeq: number, publisher = this.deps.instanceId): void {
    this.directives.push({ type: 'channel', topic, instanceId: publisher, filter, afterSeq });
  }

  push(message: Buffer): boolean {
    return this.deps.push(this.sessionId, message, [], this.via);
  }

  unsubscribe(topic: string): void {
    this.directives.push({ type: 'unsubscribe', topic });
  }
}

/** The call's trace: its id (read from the envelope's trace field) and its SERVER span when traced. */
export interface CallTrace {
  traceId: string;
  span?: CallSpan;
}

export function callContext(
  req: RequestEnvelope,
  directives: Directive[],
  deps: ContextDeps,
  trace: CallTrace,
): CallContext {
  return new Context(req, directives, deps, trace);
}

/** Pool exhausted, connection lost, statement timed out: the caller may retry (idempotency keys make it safe). */
function isUnavailableDb(err: unknown): boolean {
  const state = sqlState(err);
  return (
    isConnectionLoss(err) ||
    state === '57014' ||
    /timeout exceeded when trying to connect|Query read timeout/i.test(err instanceof Error ? err.message : '')
  );
}

/**
 * An exception struct generated from an IDL (a studio's own, or its copy of noon's GameError when
 * its IDL includes noon.thrift): not an Error, but a struct the Processor writes as the method's
 * declared exception. Thrown on as it is, so the caller gets it typed.
 */
function isDeclaredException(err: unknown): boolean {
  return (
    typeof err === 'object' &&
    err !== null &&
    !(err instanceof Error) &&
    typeof (err as { write?: unknown }).write === 'function'
  );
}

async function invoke(
  def: ServiceDef<unknown>,
  name: string,
  fn: (...args: unknown[]) => unknown,
  args: unknown[],
  ctx: CallContext,
  errorLog: LogLimiter | undefined,
): Promise<unknown> {
  try {
    return await fn(...args, ctx);
  } catch (err) {
    if (err instanceof GameError || err instanceof NoonError || isDeclaredException(err)) throw err;
    // a nested call's framework error (UNAVAILABLE from the player during a Postgres restart) keeps its code
    const nested = noonErrorOfNested(err);
    if (nested) throw nested;
    const where = `${def.thriftService}:${name}`;
    // One bad input can fail every call the same way: the log gets the first of each cause per
    // interval (with its stack), the rest are counted and summed up by the server (server.ts).
    const logIt = (kind: string): boolean => errorLog?.admit(errorCause(`${kind} ${where}`, err), Date.now()) ?? true;
    if (isUnavailableDb(err)) {
      if (logIt('database unavailable')) ctx.log.warn({ err: (err as Error).message }, 'database unavailable');
      throw new NoonError('UNAVAILABLE', `${where}: database unavailable (trace ${ctx.traceId})`);
    }
    if (logIt('handler failed')) ctx.log.error({ err }, 'handler failed');
    throw new NoonError('INTERNAL', `${where} failed (trace ${ctx.traceId})`);
  }
}

/**
 * The generated IHandler a service's one Processor is built with: each method forwards to the
 * service's handler with the current call's context appended. The generated Processor calls the
 * handler synchronously inside process(), so `current()` is the context of the call being read.
 * Errors other than GameError/NoonError are logged with the trace id and reach the caller as
 * INTERNAL without internal detail (or UNAVAILABLE when the database is unreachable). With
 * `errorLog`, those log lines are limited per cause (the first per interval is written).
 */
export function contextHandler<H>(def: ServiceDef<H>, current: () => CallContext, errorLog?: LogLimiter): H {
  const bound: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
  for (const [name, fn] of Object.entries(def.handlers as unknown as Record<string, (...args: unknown[]) => unknown>)) {
    bound[name] = (...args: unknown[]) => invoke(def as ServiceDef<unknown>, name, fn, args, current(), errorLog);
  }
  return bound as unknown as H;
}
