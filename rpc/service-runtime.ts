/**
 * Serves one ServiceDef as a live instance on the RPC layer: links for nested calls, the caller,
 * the ServiceEnv its builder gets, and the server. It registers nothing: the role host
 * (roles/host.ts) registers `methods()` and reports `load()` in Yellow, and owns the Directory.
 */
import type { TapHub } from '../shared/tap/hub';
import type { Config } from '../shared/config';
import type { CurveKeys } from '../shared/curve';
import { advertiseAll, bindHostOf } from '../shared/endpoints';
import type { Kv } from '../shared/data/kv';
import { rendezvous } from '../shared/hashing';
import type { Logger } from '../shared/log';
import type { Directory } from '../yellow/directory';
import type { InstanceLoad, ServiceMethods } from '../yellow/types';
import { directiveBuilder, type ServiceDef, type ServiceEnv } from './api';
import { ServiceCaller } from './caller';
import { serviceClients } from './clients';
import { KvOutcomes } from './kv-outcomes';
import { Links } from './links';
import { ReplyCache } from './reply-cache';
import { ServiceServer } from './server';
import type { PushLog } from '../shared/data/push-log';
import type { CallTracer } from '../shared/trace/tracer';
import { newTraceId } from '../shared/trace/traceparent';
import type { Db } from '../shared/data/sql';
import { EventConsumer } from './jobs/event-consumer';

export interface CallObserver {
  onCall(method: string, ms: number, outcome: 'ok' | 'error'): void;
  /** a request refused before its handler ran (`bad_input`) */
  onDrop?(reason: string, count?: number): void;
}

export interface ServiceRuntimeOptions {
  role: string;
  instanceId: string;
  /** already carries role and instance */
  logger: Logger;
  cfg: Config;
  directory: Directory;
  curve?: CurveKeys;
  observer?: CallObserver;
  /** where call outcomes are shared with the service's other instances; none = this instance only */
  kv?: Kv;
  /** numbers pushes in the session store (docs/pushes.md); without it they are unnumbered */
  pushLog?: PushLog;
  /** the traffic tap's taps (the role host's) */
  taps?: TapHub;
  /** spans of handled and nested calls (docs/traces.md); none without an OTLP endpoint */
  tracer?: CallTracer;
  /** where the service's event subscriptions are delivered from (the outbox); needed with subscriptions */
  db?: Db;
}

export interface ServiceRuntime {
  env: ServiceEnv;
  server: ServiceServer<unknown>;
  endpoints: { router: string; internal: string; pub: string };
  methods(): ServiceMethods;
  load(): InstanceLoad;
  stop(): Promise<void>;
}

export async function startServiceRuntime<H>(
  build: (env: ServiceEnv) => ServiceDef<H> | Promise<ServiceDef<H>>,
  opts: ServiceRuntimeOptions,
): Promise<ServiceRuntime> {
  const { cfg, role, instanceId, logger, directory, curve } = opts;
  const maxPayload = cfg.maxFrame * 4;
  const links = new Links({
    identity: instanceId,
    logger,
    maxQueued: cfg.serviceQueue,
    maxPayload,
    suspectMs: cfg.heartbeatMs * 3,
    ...(curve ? { curve } : {}),
  });
  // A deregistered instance drains: the calls it was sent are still answered.
  const onDown = ({ instanceId: id, reason }: { instanceId: string; reason: string }): void =>
    reason === 'deregistered' ? links.retire(id, 'deregistered') : links.drop(id, 'is down');
  directory.on('down', onDown);
  const caller = new ServiceCaller(directory, links, opts.tracer);
  // The env is built before the server (the builder gets it); its push/publish reach the server once it exists.
  const built: { server?: ServiceServer<H> } = {};
  // Our own id always counts as live: before Yellow confirms us we still own what hashes to us.
  const liveIds = (): string[] => [...new Set([instanceId, ...directory.instances({ role }).map((r) => r.instanceId)])];
  const ownerOf = (key: string): string | undefined => rendezvous(key, liveIds());
  const env: ServiceEnv = {
    role,
    instanceId,
    logger,
    cfg,
    directory,
    directives: directiveBuilder(role, instanceId),
    push: (sessionId, payload, directives, via) => built.server?.push(sessionId, payload, directives, via) ?? false,
    publish: (topic, seq, payload) => built.server?.publish(topic, seq, payload) ?? false,
    drop: (reason) => opts.observer?.onDrop?.(reason),
    services: (meta = {}) =>
      serviceClients(caller, () => ({
        sessionId: meta.sessionId ?? '',
        userId: meta.userId ?? '',
        username: meta.username ?? '',
        traceId: meta.traceId ?? newTraceId(),
        via: instanceId,
        deadline: Date.now() + cfg.requestTimeoutMs,
        ...(meta.instanceId ? { instanceId: meta.instanceId } : {}),
      })),
    ownerOf,
  };
  const def = await build(env);
  const replyCache = cfg.replyCache
    ? new ReplyCache({
        perSession: cfg.replyCacheEntries,
        sessions: cfg.replyCacheSessions,
        ageMs: cfg.replyCacheAgeMs,
        ...(opts.kv ? { shared: new KvOutcomes(opts.kv, role) } : {}),
        onSharedError: (err) =>
          logger.warn({ err: err.message }, 'reply cache: shared store failed, this call only local'),
      })
    : undefined;
  const server = new ServiceServer(def, {
    host: bindHostOf(cfg),
    ports: { router: cfg.serviceRouterPort, internal: cfg.serviceInternalPort, pub: cfg.servicePubPort },
    instanceId,
    logger,
    maxQueued: cfg.serviceQueue,
    maxPayload,
    caller,
    ownerOf,
    caps: { maxString: cfg.maxString, maxContainer: cfg.maxContainer, maxDepth: cfg.maxDepth },
    ...(curve ? { curve } : {}),
    brokerIds: () => directory.instances({ role: 'broker' }).map((r) => r.instanceId),
    ...(opts.observer ? { onCall: opts.observer.onCall.bind(opts.observer) } : {}),
    ...(opts.observer?.onDrop ? { onDrop: opts.observer.onDrop.bind(opts.observer) } : {}),
    errorLogIntervalMs: cfg.errorLogIntervalMs,
    slowCallMs: cfg.slowCallMs,
    ...(opts.tracer ? { tracer: opts.tracer } : {}),
    ...(replyCache ? { replyCache } : {}),
    ...(opts.pushLog ? { pushLog: opts.pushLog } : {}),
    ...(opts.taps ? { taps: opts.taps } : {}),
  });
  built.server = server;
  const endpoints = advertiseAll(await server.start(), cfg.host);
  const running = server;
  const consumer = eventConsumer(def.subscriptions ?? [], opts, liveIds);
  await consumer?.start();
  return {
    env,
    server: running as ServiceServer<unknown>,
    endpoints,
    methods: () => running.methods(),
    load: () => running.load(),
    stop: async () => {
      // Deliveries under way finish first (they may push); the rest go to the other instances.
      await consumer?.stop();
      // Deregistered by now (roles/host.ts): the calls it was sent are answered before anything
      // closes, so a rolling restart fails none of them (the brokers keep its link for the replies).
      const left = await running.drain(cfg.requestTimeoutMs);
      if (left > 0) logger.warn({ inFlight: left }, 'stopping with calls still in flight (drain deadline)');
      // The service hands off first, while it can still push and call.
      await def.stop?.().catch((err: unknown) => logger.warn({ err }, 'service stop hook failed'));
      directory.off('down', onDown);
      links.close();
      await running.stop();
    },
  };
}

/** The instance's event consumer, when the service subscribes to any event. */
function eventConsumer(
  subscriptions: NonNullable<ServiceDef<unknown>['subscriptions']>,
  opts: ServiceRuntimeOptions,
  live: () => string[],
): EventConsumer | undefined {
  if (subscriptions.length === 0) return undefined;
  const { cfg, role, instanceId, logger, db } = opts;
  if (!db) throw new Error(`service ${role} subscribes to events but was started without its Db`);
  return new EventConsumer({
    db,
    role,
    instanceId,
    handlers: subscriptions,
    live,
    pollMs: cfg.jobPollMs,
    leaseMs: cfg.jobLeaseMs,
    batch: cfg.jobConcurrency,
    backoff: { baseMs: cfg.jobBackoffMs, maxMs: cfg.jobMaxBackoffMs },
    logger: logger.child({ component: 'events' }),
  });
}
