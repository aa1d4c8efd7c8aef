/**
 * Runs one ServiceDef as a live instance: Yellow registration and heartbeats with load, a
 * Directory for nested calls, links, and the server. `build` gets a ServiceEnv first so that
 * handlers can push, publish and call other services outside a call (e.g. a duel timeout).
 */
import { randomBytes } from 'node:crypto';
import { curveOf, type Config } from '../../shared/config';
import { rendezvous } from '../../shared/hashing';
import type { Logger } from '../../shared/log';
import type { Directive } from '../../shared/wire/frames';
import { YellowClient } from '../../yellow/client';
import type { Directory } from '../../yellow/directory';
import { ServiceCaller } from './caller';
import { serviceClients, type ServiceClients } from './clients';
import { Links } from './links';
import { ServiceServer } from './server';
import type { ServiceDef } from './types';

export const NOON_VERSION = '0.1.0';

export interface ServiceEnv {
  role: string;
  instanceId: string;
  logger: Logger;
  cfg: Config;
  directory: Directory;
  /** send an Events message (and/or directives) to a session's broker */
  push(sessionId: string, payload: Buffer, directives?: Directive[], via?: string): boolean;
  /** publish a numbered room message on this instance's PUB */
  publish(topic: string, seq: number, payload: Buffer): boolean;
  /** clients for calls made outside a request (background work); deadline = request timeout */
  services(meta?: { sessionId?: string; userId?: string; username?: string; traceId?: string; instanceId?: string }): ServiceClients;
  /** the live instance of this service that owns `key` (rendezvous hash over live instances) */
  ownerOf(key: string): string | undefined;
}

export interface CallObserver {
  onCall(method: string, ms: number, outcome: 'ok' | 'error'): void;
}

export interface RunningService {
  env: ServiceEnv;
  server: ServiceServer<unknown>;
  yellow: YellowClient;
  endpoints: { router: string; pub: string };
  stop(): Promise<void>;
}

export function newInstanceId(role: string): string {
  return `${role}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

export interface StartServiceOptions {
  cfg: Config;
  logger: Logger;
  instanceId?: string;
  observer?: CallObserver;
  metricsUrl?: string;
}

export async function startService<H>(role: string, build: (env: ServiceEnv) => ServiceDef<H> | Promise<ServiceDef<H>>, opts: StartServiceOptions): Promise<RunningService> {
  const { cfg } = opts;
  const instanceId = opts.instanceId ?? newInstanceId(role);
  const logger = opts.logger.child({ instance: instanceId, role });
  const curve = curveOf(cfg);
  const yellow = new YellowClient({ endpoints: cfg.yellow, heartbeatMs: cfg.heartbeatMs, logger, ...(curve ? { curve } : {}) });
  const directory = await yellow.watch();
  const maxPayload = cfg.maxFrame * 4;
  const links = new Links({ identity: instanceId, logger, maxQueued: cfg.serviceQueue, maxPayload, suspectMs: cfg.heartbeatMs * 3, ...(curve ? { curve } : {}) });
  directory.on('down', ({ instanceId: id }) => links.drop(id, 'is down'));
  const caller = new ServiceCaller(directory, links);
  let server: ServiceServer<H> | undefined;
  // Our own id always counts as live: before Yellow confirms us we still own what hashes to us.
  const liveIds = (): string[] => [...new Set([instanceId, ...directory.instances({ role }).map((r) => r.instanceId)])];
  const env: ServiceEnv = {
    role, instanceId, logger, cfg, directory,
    push: (sessionId, payload, directives, via) => server?.push(sessionId, payload, directives, via) ?? false,
    publish: (topic, seq, payload) => server?.publish(topic, seq, payload) ?? false,
    services: (meta = {}) =>
      serviceClients(caller, () => ({ sessionId: meta.sessionId ?? '', userId: meta.userId ?? '', username: meta.username ?? '', traceId: meta.traceId ?? randomBytes(8).toString('hex'), via: instanceId, deadline: Date.now() + cfg.requestTimeoutMs, ...(meta.instanceId ? { instanceId: meta.instanceId } : {}) })),
    ownerOf: (key) => rendezvous(key, liveIds()),
  };
  const def = await build(env);
  server = new ServiceServer(def, {
    host: cfg.host, instanceId, logger, maxQueued: cfg.serviceQueue, maxPayload, caller,
    caps: { maxString: cfg.maxString, maxContainer: cfg.maxContainer, maxDepth: cfg.maxDepth },
    ownerOf: (key) => rendezvous(key, liveIds()),
    ...(curve ? { curve } : {}),
    brokerIds: () => directory.instances({ role: 'broker' }).map((r) => r.instanceId),
    ...(opts.observer ? { onCall: opts.observer.onCall.bind(opts.observer) } : {}),
  });
  const endpoints = await server.start();
  const running = server;
  const loadTimer = setInterval(() => yellow.setLoad(running.load()), cfg.heartbeatMs);
  await yellow.register({
    role, instanceId, host: cfg.host, version: NOON_VERSION, pid: process.pid, startedAt: Date.now(),
    endpoints: { router: endpoints.router, pub: endpoints.pub, ...(opts.metricsUrl ? { metrics: opts.metricsUrl } : {}) },
    service: running.methods(), load: running.load(),
  }).catch((err: Error) => logger.warn({ err: err.message }, 'no Yellow acknowledged the registration yet; retrying in the background'));
  logger.info({ endpoints }, 'service started');
  return {
    env, server: running as ServiceServer<unknown>, yellow, endpoints,
    stop: async () => {
      clearInterval(loadTimer);
      await yellow.deregister().catch(() => undefined);
      await yellow.stop();
      links.close();
      await running.stop();
    },
  };
}
