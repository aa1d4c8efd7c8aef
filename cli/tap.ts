/**
 * `noon tap '<query>'`: attaches the query to every broker (and, with --services, every service
 * instance) found through Yellow, and merges their streams of matching calls to stdout: one
 * readable line per call, or NDJSON with --json. A query that does not parse is refused here,
 * with a caret under the character (exit 2), before any instance is asked.
 */
import type { Config } from '../shared/config';
import type { Logger } from '../shared/log';
import { QueryError } from '../shared/query';
import { parseTapQuery } from '../shared/tap/record';
import type { InstanceRecord } from '../yellow/types';
import { printJson, stopOnSignals } from './lifecycle';
import { UsageError } from './options';
import { withKeysHint, yellowClient } from './yellow-ops';

export interface TapCommandOptions {
  query: string;
  json: boolean;
  /** also tap service instances (which see nested service-to-service calls too) */
  services: boolean;
  rate?: number;
  sample?: number;
  /** stop after this many calls */
  limit?: number;
}

/** The tap URL of an instance, next to its registered /metrics. */
export function tapUrlOf(metricsUrl: string, o: Pick<TapCommandOptions, 'query' | 'rate' | 'sample'>): string {
  const url = new URL('/tap', metricsUrl);
  url.searchParams.set('q', o.query);
  if (o.rate !== undefined) url.searchParams.set('rate', String(o.rate));
  if (o.sample !== undefined) url.searchParams.set('sample', String(o.sample));
  return url.toString();
}

function clock(ms: unknown): string {
  return typeof ms === 'number' ? new Date(ms).toISOString().slice(11, 23) : '';
}

/** One call as a person reads it: time, method, outcome and latency first, then the rest as key=value. */
export function describeCall(call: Record<string, unknown>): string {
  const parts: string[] = [];
  if (call.time !== undefined) parts.push(clock(call.time));
  if (call.method !== undefined) parts.push(String(call.method));
  if (call.outcome !== undefined) parts.push(String(call.outcome));
  if (call.latency_ms !== undefined) parts.push(`${String(call.latency_ms)} ms`);
  for (const [k, v] of Object.entries(call)) {
    if (k === 'time' || k === 'method' || k === 'outcome' || k === 'latency_ms' || v === undefined) continue;
    parts.push(`${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  }
  return parts.join('  ');
}

interface TapError {
  error?: string;
  pointed?: string;
}

export async function runTap(cfg: Config, logger: Logger, o: TapCommandOptions): Promise<void> {
  try {
    parseTapQuery(o.query);
  } catch (err) {
    if (err instanceof QueryError) throw new UsageError(`the query does not parse:\n${err.pointAt(o.query)}`);
    throw err;
  }
  const token = cfg.adminToken;
  if (token === undefined)
    throw new UsageError("noon tap needs the cluster's admin token: --admin-token or NOON_ADMIN_TOKEN");
  const y = yellowClient(cfg, logger);
  try {
    await y.query();
  } catch (err) {
    await y.stop();
    throw withKeysHint(cfg, new Error(`cannot reach Yellow: ${(err as Error).message}`));
  }
  const dir = await y.watch();
  const wanted = (r: InstanceRecord): boolean =>
    r.endpoints.metrics !== undefined && (r.role === 'broker' || (o.services && r.service !== undefined));
  const aborts = new Map<string, AbortController>();
  let printed = 0;
  let finish: (err?: Error) => void = () => undefined;
  const done = new Promise<void>((resolve, reject) => {
    finish = (err) => (err ? reject(err) : resolve());
  });
  const stop = async (): Promise<void> => {
    for (const a of aborts.values()) a.abort();
    aborts.clear();
    await y.stop();
  };
  const show = (line: Record<string, unknown>, from: string): void => {
    if (line.type === 'call') {
      if (o.limit !== undefined && printed >= o.limit) return;
      const call = (line.call ?? {}) as Record<string, unknown>;
      if (o.json) printJson(call);
      else process.stdout.write(`${describeCall(call)}\n`);
      if (o.limit !== undefined && ++printed >= o.limit) finish();
    } else if (line.type === 'dropped') {
      process.stderr.write(
        `noon tap: ${from} dropped ${Number(line.rate)} over the rate cap, ${Number(line.queue)} for a slow reader, ${Number(line.overflow)} in bursts\n`,
      );
    } else if (line.type === 'attached') process.stderr.write(`noon tap: tapping ${from}\n`);
    else if (line.type === 'end') process.stderr.write(`noon tap: ${from} ended the tap (${String(line.reason)})\n`);
  };
  const attach = async (r: InstanceRecord): Promise<void> => {
    if (aborts.has(r.instanceId) || !wanted(r)) return;
    const abort = new AbortController();
    aborts.set(r.instanceId, abort);
    try {
      const res = await fetch(tapUrlOf(r.endpoints.metrics as string, o), {
        headers: { authorization: `Bearer ${token}` },
        signal: abort.signal,
      });
      if (res.status !== 200 || !res.body) {
        const body = (await res.json().catch(() => ({}))) as TapError;
        const why = body.pointed ?? body.error ?? `HTTP ${res.status}`;
        if (res.status === 400) return finish(new UsageError(`${r.instanceId} refused the query:\n${why}`));
        if (res.status === 401 || res.status === 403)
          return finish(new Error(`${r.instanceId} refused the tap: ${why}`));
        process.stderr.write(`noon tap: ${r.instanceId} did not attach: ${why}\n`);
        return;
      }
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let rest = '';
      for (;;) {
        const { value, done: ended } = await reader.read();
        if (ended) break;
        rest += decoder.decode(value, { stream: true });
        let nl: number;
        while ((nl = rest.indexOf('\n')) >= 0) {
          const text = rest.slice(0, nl);
          rest = rest.slice(nl + 1);
          if (text.trim() !== '') show(JSON.parse(text) as Record<string, unknown>, r.instanceId);
        }
      }
    } catch (err) {
      if (!abort.signal.aborted) process.stderr.write(`noon tap: ${r.instanceId}: ${(err as Error).message}\n`);
    } finally {
      if (aborts.get(r.instanceId) === abort) aborts.delete(r.instanceId);
    }
  };
  const targets = dir.instances({ includeDraining: true }).filter(wanted);
  if (targets.length === 0) {
    await y.stop();
    throw new Error(
      `no ${o.services ? 'broker or service' : 'broker'} is registered in Yellow (${cfg.yellow.join(', ')})`,
    );
  }
  dir.on('up', (r: InstanceRecord) => void attach(r));
  stopOnSignals(stop, logger);
  for (const r of targets) void attach(r);
  try {
    await done;
  } finally {
    await stop();
  }
}
