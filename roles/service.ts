/**
 * `noon start <service>`: a game service module on the RPC layer. Migrations first, then the
 * runtime (server, links, env), then registration with the methods the broker routes by. With
 * `shared` data the caller owns (and closes) the Db and Kv.
 */
import type { Config } from '../shared/config';
import { mayServe, servicesOfRole } from '../shared/service-roles';
import type { Kv } from '../shared/data/kv';
import type { Db } from '../shared/data/sql';
import type { Logger } from '../shared/log';
import { PushLog, pushWindowOf } from '../shared/data/push-log';
import type { AnyServiceModule, ServiceDef, ServiceEnv } from '../rpc/api';
import { SERVER_DROP_REASONS } from '../rpc/server';
import { startServiceRuntime, type ServiceRuntime } from '../rpc/service-runtime';
import { migrateModule, openData, type SharedData } from './data';
import { RoleHost, type RunningRole } from './host';

export interface RunningService extends RunningRole {
  env: ServiceEnv;
  server: ServiceRuntime['server'];
  endpoints: ServiceRuntime['endpoints'];
}

export interface ServiceRoleOptions {
  processMetrics?: boolean;
  metricsPort?: number;
}

export interface StartServiceOptions extends ServiceRoleOptions {
  cfg: Config;
  logger: Logger;
  /** numbers its pushes in the session store (docs/pushes.md); without it they are unnumbered */
  pushLog?: PushLog;
  /** delivers the service's event subscriptions (needed when it has any) */
  db?: Db;
}

/** Any ServiceDef builder as a role (test fixtures and benchmarks serve one without a module). */
export function startService<H>(
  role: string,
  build: (env: ServiceEnv) => ServiceDef<H> | Promise<ServiceDef<H>>,
  opts: StartServiceOptions,
): Promise<RunningService> {
  const { pushLog, db, ...hostOpts } = opts;
  return RoleHost.run({ role, ...hostOpts }, (host) => serveOn(host, build, undefined, pushLog, db));
}

export function startServiceRole(
  mod: AnyServiceModule,
  cfg: Config,
  logger: Logger,
  shared?: SharedData,
  opts: ServiceRoleOptions = {},
): Promise<RunningService> {
  return RoleHost.run({ role: mod.role, cfg, logger, ...opts }, async (host) => {
    const data = shared ?? (await openData(cfg, host.logger));
    if (!shared) {
      host.onStop(() => data.db.close());
      host.onStop(() => data.kv.close());
    }
    const applied = await migrateModule(data.db, mod);
    if (applied > 0) host.logger.info({ applied }, 'migrations applied');
    return serveOn(host, (env) => mod.build(env, data), data.kv, new PushLog(data.kv, pushWindowOf(cfg)), data.db);
  });
}

/** The runtime on a host: built, then registered with the methods the broker routes by. */
async function serveOn<H>(
  host: RoleHost,
  build: (env: ServiceEnv) => ServiceDef<H> | Promise<ServiceDef<H>>,
  /** shares call outcomes with the service's other instances (retries, docs/retries.md) */
  kv?: Kv,
  pushLog?: PushLog,
  /** delivers the service's event subscriptions */
  db?: Db,
): Promise<RunningService> {
  const { cfg, role } = host;
  const directory = await host.directory();
  const runtime = await startServiceRuntime(build, {
    role,
    instanceId: host.instanceId,
    logger: host.logger,
    cfg,
    directory,
    observer: host.metrics.observer(),
    taps: host.taps,
    ...(kv ? { kv } : {}),
    ...(host.curve ? { curve: host.curve } : {}),
    ...(pushLog ? { pushLog } : {}),
    ...(host.tracer ? { tracer: host.tracer } : {}),
    ...(db ? { db } : {}),
  });
  host.onStop(() => runtime.stop());
  const served = runtime.methods().thriftService;
  if (host.curve && !mayServe(role, served, host.curve.keyring.servicesOf(role)))
    // Yellow would refuse every registration; say why at start instead.
    throw new Error(
      `role ${role} serves ${served}, but its key may register only ${servicesOfRole(role, host.curve.keyring.servicesOf(role)).join(', ')}: name the role after the service, or list "${served}" in the role's keyring entry ("services")`,
    );
  for (const queue of Object.keys(runtime.server.queueDepths()))
    host.metrics.watchQueue(queue, () => runtime.server.queueDepths()[queue] ?? 0);
  const methods = runtime.methods();
  host.metrics.knowMethods(
    methods.methods.map((m) => `${methods.thriftService}:${m}`),
    ['ok', 'error'],
  );
  host.metrics.knowDrops(SERVER_DROP_REASONS);
  await host.register({ endpoints: runtime.endpoints, service: runtime.methods(), load: () => runtime.load() });
  host.logger.info({ endpoints: runtime.endpoints }, 'service started');
  return {
    role,
    env: runtime.env,
    server: runtime.server,
    endpoints: runtime.endpoints,
    ready: host.readyFields(runtime.endpoints),
    stop: () => host.stop(),
  };
}
