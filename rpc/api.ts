/**
 * The service API: everything a game service is written against, and nothing else. A service
 * module declares its migrations and builds a ServiceDef from a ServiceEnv; its handlers get a
 * CallContext per call. No socket, Yellow client or role host is reachable from here: a service
 * pushes, publishes, binds and calls other services only through these interfaces.
 * docs/service-api.md describes it for a service author.
 */
import type { Config } from '../shared/config';
import type { Db } from '../shared/data/sql';
import type { Kv } from '../shared/data/kv';
import type { Migration } from '../shared/data/migrate';
import type { Logger } from '../shared/log';
import type { NoonError } from '../shared/errors';
import type { Directive } from '../shared/wire/frames';
import type { ServiceClients } from './clients';
import type { EventHandler, JobHandler } from './outbox-api';

export type { ClientClass, ServiceClients } from './clients';
export type { Directive } from '../shared/wire/frames';
export {
  DEFAULT_MAX_ATTEMPTS,
  defineEvent,
  defineJob,
  handleJob,
  JobRefused,
  onEvent,
  type DeliveryContext,
  type DeliveryHandler,
  type EnqueueOptions,
  type EventHandler,
  type EventType,
  type JobHandler,
  type JobType,
  type StructClass,
} from './outbox-api';

/** The generated IHandler with a CallContext appended to every method's arguments. */
export type WithContext<H> = {
  [K in keyof H]: H[K] extends (...args: infer A) => infer R ? (...args: [...A, CallContext]) => R : never;
};

export interface CallContext {
  /** follows the call from the broker through every service it reaches */
  traceId: string;
  /** `anon:<broker>:<connection>` before login (one per connection), then the session id */
  sessionId: string;
  userId: string;
  /** the session's display name ('' before login) */
  username: string;
  /** instance id of the broker holding the caller's connection (nested calls keep it): where pushes go */
  via: string;
  /** absolute deadline (Date.now() ms); nested calls made through `services` inherit it */
  deadline: number;
  /**
   * The id the client gave this call, unique within its session and the same when the client
   * sends the call again (docs/retries.md); undefined for nested calls and clients that give
   * none. The reply cache already answers a retry with the first outcome; a handler whose write
   * lands in Postgres can also store it with the write (unique per session) so that a retry
   * applies once even when the cache's shared store did not answer.
   */
  clientRequestId: string | undefined;
  log: Logger;
  instanceId: string;
  /** awaitable clients of the other services, with this call's session, trace and deadline */
  services: ServiceClients;
  /**
   * clients whose calls all go to one instance (e.g. the owner of a room); UNAVAILABLE if it is
   * gone. With `forwarding`, the call made is this call handed on to the instance that holds its
   * state: it carries this call's clientRequestId, so the owner can key its write by it. Only for
   * a method listed in idempotentMethods (one the reply cache skips: the cache would take the
   * handed-on call for a duplicate of this one and wait for it).
   */
  servicesAt(instanceId: string, opts?: { forwarding?: boolean }): ServiceClients;
  /** the live instance of this service that owns `key` (rendezvous hash) */
  ownerOf(key: string): string | undefined;
  /** make the caller's connection logged in as this session (sso only) */
  authenticate(session: { sessionId: string; userId: string; username: string }): void;
  logout(): void;
  /** route this session's later calls to `instanceId` (default: this instance) for this stateful service */
  bind(sessionId?: string, instanceId?: string): void;
  unbind(sessionId?: string): void;
  /** have the caller's broker deliver messages of this room topic to the caller */
  subscribe(topic: string, publisherInstanceId?: string): void;
  unsubscribe(topic: string): void;
  /**
   * have the caller's broker deliver this channel topic's messages whose attributes match
   * `filter` (docs/query.md), each after `afterSeq` once and in order; `unsubscribe` ends it
   */
  subscribeChannel(topic: string, filter: string, afterSeq: number, publisherInstanceId?: string): void;
  /**
   * Sends a push (a ONEWAY message, see `pushMessage`) to the caller's session, through the
   * broker that holds its connection; false when it could not be queued.
   */
  push(message: Buffer): boolean;
}

/** Declares a service: the broker learns everything it needs from this through Yellow. */
export interface ServiceDef<H> {
  /** the role name: 'player' */
  role: string;
  /** the Thrift service name in multiplexed calls: 'Player' */
  thriftService: string;
  processor: new (handler: H) => { process(input: unknown, output: unknown): void };
  stateful: boolean;
  /**
   * Stateful, with its state kept outside the instance (Postgres) so another instance can take a
   * session over: when the bound instance dies the broker routes the session anew (rendezvous)
   * instead of answering STATE_LOST, and sends no `Events:stateLost`. Default false.
   */
  durable?: boolean;
  /** callable before login */
  publicMethods?: readonly (keyof H & string)[];
  /** read-only or keyed by idempotency ids: retried once on another instance */
  idempotentMethods?: readonly (keyof H & string)[];
  /** service-to-service only; refused from clients */
  internalMethods?: readonly (keyof H & string)[];
  /**
   * Methods only some service roles may call (`{ escrowStakes: ['duel'] }`): with keys, a call
   * from any other role's key is answered FORBIDDEN without running the handler. The caller's
   * role comes from its key, never from the request (docs/security.md). A client call arrives
   * from a broker, whose role is `broker`. Without keys (`noon up`, test clusters) nothing on the
   * internal plane is authenticated and these lists are not applied.
   */
  callerRoles?: { readonly [M in keyof H & string]?: readonly string[] };
  /**
   * false: a client's retried call runs again instead of getting its first outcome (docs/retries.md).
   * Default true, except for the idempotentMethods, which are safe to repeat.
   */
  replyCache?: boolean;
  /**
   * A refusal decided before the call is decoded and run (BUSY for a chat room whose queue is
   * full): a flood of calls that will be refused then costs little more than reading their
   * envelopes, and the instance's other calls are not crowded out. `key` reads the call's
   * argument 1 when it is a string (what calls are owned by, e.g. a room id), else undefined.
   * Undefined = run the call. Runs where the call would: after the reply cache, so a retry of a
   * call that is running or has run still gets that call's outcome.
   */
  shed?(call: { method: keyof H & string; userId: string; key(): string | undefined }): NoonError | undefined;
  handlers: WithContext<H>;
  /**
   * Called once when the instance stops, after it has left Yellow (nothing new is routed to it)
   * and before its sockets close: where a service hands off what it holds. A stop waits for it.
   */
  stop?(): Promise<void>;
  /**
   * Events this service receives (`onEvent(event, handler)`), each once per service however many
   * instances run: whichever instance claims a delivery runs it, and its effect commits with the
   * delivery's completion (`ctx.q`). Counted from the service's first start with the subscription.
   */
  subscriptions?: readonly EventHandler[];
}

/**
 * The instances a service may look up: which brokers exist, who its peers are. Draining
 * instances (still serving what they hold, taking no new work) are left out unless asked for.
 */
export interface PeerView {
  instances(filter?: {
    role?: string;
    includeDraining?: boolean;
  }): ReadonlyArray<{ readonly instanceId: string; readonly role: string; readonly draining: boolean }>;
}

/**
 * Directives a service attaches to a push (a reply's directives come from CallContext's
 * methods). The broker that holds the session carries them out; docs/protocol/frames.md lists them.
 */
export interface DirectiveBuilder {
  /** route the session's later calls of this service to `instanceId` (default: this instance) */
  bind(sessionId: string, instanceId?: string): Directive;
  unbind(sessionId: string): Directive;
  /** close the session's connection after delivering the push it rides on */
  close(reason: string): Directive;
}

/** What a service instance gets once, at build time: for work outside a call (timers, kicks). */
export interface ServiceEnv {
  role: string;
  instanceId: string;
  logger: Logger;
  cfg: Config;
  /** live instances of the cluster, from Yellow */
  directory: PeerView;
  directives: DirectiveBuilder;
  /** send an Events message (and/or directives) to a session's broker; false when it cannot */
  push(sessionId: string, payload: Buffer, directives?: Directive[], via?: string): boolean;
  /** publish a numbered room message on this instance's PUB */
  publish(topic: string, seq: number, payload: Buffer): boolean;
  /** counts one refusal in this instance's noon_dropped_total{reason} (e.g. chat's `chat_busy`) */
  drop?(reason: string): void;
  /** clients for calls made outside a request (background work); deadline = request timeout */
  services(meta?: {
    sessionId?: string;
    userId?: string;
    username?: string;
    traceId?: string;
    instanceId?: string;
  }): ServiceClients;
  /** the live instance of this service that owns `key` (rendezvous hash over live instances) */
  ownerOf(key: string): string | undefined;
}

/** Data handles shared by every service of a process (one PGlite may serve them all in `noon up`). */
export interface ServiceDeps {
  db: Db;
  kv: Kv;
}

/** How a game service plugs into `noon start <role>` and `noon up`: migrations plus a builder. */
export interface ServiceModule<H = unknown> {
  role: string;
  migrations: readonly Migration[];
  build(env: ServiceEnv, deps: ServiceDeps): ServiceDef<H> | Promise<ServiceDef<H>>;
  /**
   * Job handlers (`handleJob(job, handler)`) the worker role runs: `noon start worker` takes
   * them from every module of the project, whether or not the module's service runs there.
   */
  jobs?: readonly JobHandler[];
}

/**
 * A module of any service, for lists of modules (`noon up`, test clusters). TypeScript has no
 * existential types; each module is still checked against its own handler interface where it
 * is defined.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyServiceModule = ServiceModule<any>;

/** Builds a service's directives; the only place outside the frame codec that spells them. */
export function directiveBuilder(role: string, instanceId: string): DirectiveBuilder {
  return {
    bind: (sessionId, target = instanceId) => ({ type: 'bind', service: role, instanceId: target, sessionId }),
    unbind: (sessionId) => ({ type: 'unbind', service: role, sessionId }),
    close: (reason) => ({ type: 'close', reason }),
  };
}
