/**
 * Operator queries against Yellow: services, instances, scrape targets, a live event feed, drain. Each builds a
 * YellowClient from the config's endpoints, asks, prints (a table, or JSON with --json) and
 * stops the client so the process can exit.
 */
import type { Config } from '../shared/config';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { defaultKeyDir, hasKeyOptions, internalKeysFor } from '../shared/internal-keys';
import { KEYRING_FILE } from '../shared/keyring';
import type { Logger } from '../shared/log';
import { YellowClient } from '../yellow/client';
import { scrapeTargets } from '../yellow/scrape-targets';
import type { InstanceRecord } from '../yellow/types';
import { printJson, stopOnSignals } from './lifecycle';
import { age, table } from './table';

/** The key directory an operator command found and uses on its own, if any (see yellowClient). */
function localKeys(cfg: Config): string | undefined {
  const local = defaultKeyDir(cfg);
  return !hasKeyOptions(cfg) && !cfg.internalPlaintext && existsSync(join(local, KEYRING_FILE)) ? local : undefined;
}

export function yellowClient(cfg: Config, logger: Logger): YellowClient {
  // With key options set, an operator command speaks CURVE with the operator key; without, it
  // uses the keys `noon start` made in the data directory, when there are any (same host).
  const local = localKeys(cfg);
  const curve = internalKeysFor(local !== undefined ? { ...cfg, internalKeys: local } : cfg, 'operator');
  return YellowClient.fromConfig(cfg, logger, {
    queryTimeoutMs: Math.max(2000, cfg.heartbeatMs * 2),
    ...(curve ? { curve } : {}),
  });
}

/**
 * Keys picked up on their own are the likeliest reason a reachable Yellow stays silent (a
 * plaintext cluster such as `noon up` never answers a CURVE handshake): say which were used.
 */
export function withKeysHint(cfg: Config, err: unknown): unknown {
  const local = localKeys(cfg);
  if (local !== undefined && err instanceof Error && /no Yellow answered/.test(err.message))
    err.message += ` (this command used the CURVE keys in ${local}, as no --internal-keys option was given; for a plaintext cluster such as noon up pass --internal-plaintext, or --data-dir of the cluster's own keys)`;
  return err;
}

export async function withYellow<T>(cfg: Config, logger: Logger, fn: (y: YellowClient) => Promise<T>): Promise<T> {
  const y = yellowClient(cfg, logger);
  try {
    return await fn(y);
  } catch (err) {
    throw withKeysHint(cfg, err);
  } finally {
    await y.stop();
  }
}

export interface ServiceSummary {
  role: string;
  thriftService?: string;
  instances: number;
  draining: number;
  stateful?: boolean;
  methods: string[];
}

/** One row per role, in role order; methods are the union over its instances. */
export function summarizeServices(records: InstanceRecord[]): ServiceSummary[] {
  const byRole = new Map<string, ServiceSummary>();
  for (const r of records) {
    const s = byRole.get(r.role) ?? { role: r.role, instances: 0, draining: 0, methods: [] };
    s.instances++;
    if (r.draining) s.draining++;
    if (r.service) {
      s.thriftService = r.service.thriftService;
      s.stateful = r.service.stateful;
      s.methods = [...new Set([...s.methods, ...r.service.methods])].sort();
    }
    byRole.set(r.role, s);
  }
  return [...byRole.values()].sort((a, b) => a.role.localeCompare(b.role));
}

export function servicesTable(list: ServiceSummary[]): string {
  return table(
    ['ROLE', 'THRIFT', 'INSTANCES', 'DRAINING', 'STATEFUL', 'METHODS'],
    list.map((s) => [
      s.role,
      s.thriftService,
      s.instances,
      s.draining,
      s.stateful,
      s.methods.length > 0 ? s.methods.join(',') : undefined,
    ]),
  );
}

/** Instances of a role or Thrift service name (either matches), or all. */
export function filterInstances(records: InstanceRecord[], which?: string): InstanceRecord[] {
  const out = which ? records.filter((r) => r.role === which || r.service?.thriftService === which) : records;
  return [...out].sort((a, b) => a.role.localeCompare(b.role) || a.instanceId.localeCompare(b.instanceId));
}

function mainEndpoint(r: InstanceRecord): string | undefined {
  const e = r.endpoints;
  return e.tcp ?? e.http ?? e.router;
}

export function instancesTable(records: InstanceRecord[], now = Date.now()): string {
  return table(
    ['INSTANCE', 'ROLE', 'PID', 'UP', 'IN-FLIGHT', 'ELU', 'DRAIN', 'ENDPOINT', 'METRICS'],
    records.map((r) => [
      r.instanceId,
      r.role,
      r.pid,
      age(r.startedAt, now),
      r.load.inFlight,
      r.load.elu,
      r.draining ? 'yes' : 'no',
      mainEndpoint(r),
      r.endpoints.metrics,
    ]),
  );
}

export async function yellowServices(cfg: Config, logger: Logger, json: boolean): Promise<void> {
  const records = await withYellow(cfg, logger, (y) => y.query());
  const list = summarizeServices(records);
  if (json) printJson(list);
  else process.stdout.write(list.length ? servicesTable(list) : 'no instances registered\n');
}

export async function yellowInstances(
  cfg: Config,
  logger: Logger,
  which: string | undefined,
  json: boolean,
): Promise<void> {
  const records = filterInstances(await withYellow(cfg, logger, (y) => y.query()), which);
  if (json) printJson(records);
  else process.stdout.write(records.length ? instancesTable(records) : `no instances${which ? ` of ${which}` : ''}\n`);
}

/** Every registered /metrics as a Prometheus file_sd (and http_sd) target list, on stdout. */
export async function yellowTargets(cfg: Config, logger: Logger): Promise<void> {
  printJson(scrapeTargets(await withYellow(cfg, logger, (y) => y.query())));
}

export async function yellowDrain(
  cfg: Config,
  logger: Logger,
  instanceId: string,
  undo: boolean,
  json: boolean,
): Promise<void> {
  await withYellow(cfg, logger, (y) => y.drain(instanceId, !undo));
  if (json) printJson({ instanceId, draining: !undo });
  else
    process.stdout.write(
      undo
        ? `${instanceId} takes new work again\n`
        : `${instanceId} is draining: no new sessions or calls are routed to it\n`,
    );
}

/** Prints what Yellow knows now, then every change as it happens, until SIGINT (exit 0). */
export async function yellowWatch(cfg: Config, logger: Logger, opts: { json: boolean; load: boolean }): Promise<void> {
  const y = yellowClient(cfg, logger);
  stopOnSignals(() => y.stop(), logger);
  const dir = await y.watch();
  const out = (ev: Record<string, unknown>, human: string): void => {
    if (opts.json) printJson({ at: new Date().toISOString(), ...ev });
    else process.stdout.write(`${new Date().toISOString().slice(11, 23)}  ${human}\n`);
  };
  const show = (r: InstanceRecord): string =>
    `${r.role} ${r.instanceId} pid ${r.pid} ${mainEndpoint(r) ?? ''}`.trimEnd();
  for (const r of dir.instances({ includeDraining: true }))
    out({ type: 'present', instance: r }, `present  ${show(r)}`);
  if (!opts.json) process.stdout.write(`watching ${cfg.yellow.join(', ')} (Ctrl-C to stop)…\n`);
  dir.on('up', (r) => out({ type: 'up', instance: r }, `up       ${show(r)}`));
  dir.on('down', (d) =>
    out(
      { type: 'down', instanceId: d.instanceId, role: d.role, reason: d.reason },
      `down     ${d.role} ${d.instanceId} (${d.reason})`,
    ),
  );
  dir.on('change', (r, prev) => {
    if (r.draining !== prev.draining)
      out(
        { type: 'draining', instanceId: r.instanceId, draining: r.draining },
        `${r.draining ? 'draining' : 'undrain '} ${show(r)}`,
      );
    else if (r.epoch !== prev.epoch) out({ type: 'reregistered', instance: r }, `re-reg   ${show(r)} epoch ${r.epoch}`);
    else if (opts.load && JSON.stringify(r.load) !== JSON.stringify(prev.load)) {
      out(
        { type: 'load', instanceId: r.instanceId, load: r.load },
        `load     ${r.role} ${r.instanceId} in-flight ${r.load.inFlight} elu ${r.load.elu}`,
      );
    }
  });
}
