/**
 * `noon top`: a table per instance, refreshed every interval, from each instance's /metrics
 * (URL registered in Yellow) and its load in Yellow: calls/s, p99, in-flight, load, errors.
 * `--once` prints one table from two scrapes one interval apart. An unreachable Yellow fails the
 * command (exit 1, naming its endpoints) rather than showing an empty cluster.
 */
import type { Config } from '../shared/config';
import type { Logger } from '../shared/log';
import type { InstanceRecord } from '../yellow/types';
import { printJson, stopOnSignals } from './lifecycle';
import { parseProm, rates, type Rates, type Sample } from './prom';
import { table } from './table';
import { withKeysHint, yellowClient } from './yellow-ops';

export const SCRAPE_TIMEOUT_MS = 2000;

export interface TopRow extends Partial<Rates> {
  instanceId: string;
  role: string;
  inFlight: number;
  load: number;
  connections?: number;
  metrics?: string;
  /** why the instance has no numbers (no URL, scrape failed) */
  problem?: string;
}

interface Scrape {
  at: number;
  samples?: Sample[];
  problem?: string;
}

async function scrape(url: string | undefined): Promise<Scrape> {
  const at = Date.now();
  if (!url) return { at, problem: 'no metrics URL' };
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS) });
    if (!res.ok) return { at, problem: `HTTP ${res.status}` };
    return { at, samples: parseProm(await res.text()) };
  } catch (err) {
    return { at, problem: (err as Error).message };
  }
}

export function topRow(r: InstanceRecord, prev: Scrape | undefined, cur: Scrape): TopRow {
  const base: TopRow = {
    instanceId: r.instanceId,
    role: r.role,
    inFlight: r.load.inFlight,
    load: r.load.score ?? r.load.elu,
    ...(r.load.connections !== undefined ? { connections: r.load.connections } : {}),
    ...(r.endpoints.metrics ? { metrics: r.endpoints.metrics } : {}),
  };
  if (!cur.samples) return { ...base, problem: cur.problem ?? 'no samples' };
  return { ...base, ...rates(prev?.samples, cur.samples, prev ? (cur.at - prev.at) / 1000 : 0) };
}

export function topTable(rows: TopRow[]): string {
  return table(
    ['INSTANCE', 'ROLE', 'CALLS/S', 'P99 MS', 'IN-FLIGHT', 'LOAD', 'ERR/S', 'CALLS', 'ERRORS', 'CONNS'],
    rows.map((r) =>
      r.problem
        ? [r.instanceId, r.role, undefined, undefined, r.inFlight, r.load, undefined, undefined, undefined, r.problem]
        : [
            r.instanceId,
            r.role,
            r.callsPerSec,
            r.p99Ms,
            r.inFlight,
            r.load,
            r.errorsPerSec,
            r.calls,
            r.errors,
            r.connections,
          ],
    ),
  );
}

export async function runTop(
  cfg: Config,
  logger: Logger,
  opts: { once: boolean; json: boolean; intervalMs: number },
): Promise<void> {
  const y = yellowClient(cfg, logger);
  // An empty table must mean an empty cluster, never an unreachable Yellow: ask once first.
  try {
    await y.query();
  } catch (err) {
    await y.stop();
    throw withKeysHint(cfg, new Error(`cannot reach Yellow: ${(err as Error).message}`));
  }
  const dir = await y.watch();
  const last = new Map<string, Scrape>();
  const round = async (): Promise<TopRow[]> => {
    const records = dir
      .instances({ includeDraining: true })
      .sort((a, b) => a.role.localeCompare(b.role) || a.instanceId.localeCompare(b.instanceId));
    const scrapes = await Promise.all(records.map((r) => scrape(r.endpoints.metrics)));
    return records.map((r, i) => {
      const cur = scrapes[i] as Scrape;
      const row = topRow(r, last.get(r.instanceId), cur);
      last.set(r.instanceId, cur);
      return row;
    });
  };
  const show = (rows: TopRow[]): void => {
    if (opts.json) return printJson({ at: new Date().toISOString(), instances: rows });
    const head = `noon top — ${rows.length} instance(s) via ${cfg.yellow.join(', ')} — every ${opts.intervalMs} ms\n`;
    process.stdout.write(
      `${opts.once ? '' : '\x1b[2J\x1b[H'}${head}${rows.length ? topTable(rows) : 'no instances registered\n'}`,
    );
  };
  if (opts.once) {
    try {
      await round();
      await new Promise((r) => setTimeout(r, opts.intervalMs));
      show(await round());
    } finally {
      await y.stop();
    }
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  stopOnSignals(async () => {
    clearTimeout(timer);
    await y.stop();
  }, logger);
  const tick = (): void => {
    round()
      .then(show, (err: Error) => logger.warn({ err: err.message }, 'top round failed'))
      .finally(() => (timer = setTimeout(tick, opts.intervalMs)));
  };
  tick();
}
