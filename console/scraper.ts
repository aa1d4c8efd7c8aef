/**
 * The console's view of the cluster: every instance Yellow lists, each one's /metrics scraped
 * every interval (all at once, each bounded by a timeout; the next round starts only when the
 * last has ended), its rates from its last two scrapes, and a ring of per-method calls/s and p99
 * over the brokers (what clients see) for the charts.
 */
import type { Logger } from '../shared/log';
import { parsePrometheus } from '../shared/prometheus';
import type { Directory } from '../yellow/directory';
import type { InstanceRecord } from '../yellow/types';
import { instanceRates, methodRates, SeriesRing, type InstanceRates, type Scrape, type SeriesBody } from './series';

export interface ScraperOptions {
  directory: Directory;
  logger: Logger;
  /** ms between rounds; default 1000 */
  intervalMs?: number;
  /** points kept for the charts; default 300 (5 minutes at 1 s) */
  points?: number;
  /** one scrape's deadline; default 2000 ms */
  timeoutMs?: number;
}

/** One instance as the page shows it: only what Yellow and /metrics say, never a key or a token. */
export interface InstanceRow extends Partial<InstanceRates> {
  instanceId: string;
  role: string;
  host: string;
  version: string;
  pid: number;
  startedAt: number;
  draining: boolean;
  inFlight: number;
  /** the broker's score, else event-loop utilisation (0..1) */
  load: number;
  connections?: number;
  /** where clients or peers reach it (tcp, ws, http), and its /metrics */
  endpoint?: string;
  metrics?: string;
  /** why there are no numbers: no metrics URL, scrape failed */
  problem?: string;
}

export interface ClusterBody {
  /** epoch ms of the last round */
  at: number;
  intervalMs: number;
  instances: InstanceRow[];
}

type Result = { ok: true; scrape: Scrape } | { ok: false; problem: string };

function rowOf(r: InstanceRecord): InstanceRow {
  const e = r.endpoints;
  const endpoint = e.tcp ?? e.ws ?? e.http ?? e.https ?? e.router;
  return {
    instanceId: r.instanceId,
    role: r.role,
    host: r.host,
    version: r.version,
    pid: r.pid,
    startedAt: r.startedAt,
    draining: r.draining === true,
    inFlight: r.load.inFlight,
    load: r.load.score ?? r.load.elu,
    ...(r.load.connections !== undefined ? { connections: r.load.connections } : {}),
    ...(endpoint !== undefined ? { endpoint } : {}),
    ...(e.metrics !== undefined ? { metrics: e.metrics } : {}),
  };
}

export class ClusterScraper {
  readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly ring: SeriesRing;
  private readonly last = new Map<string, Scrape>();
  private readonly problems = new Map<string, string>();
  private rates = new Map<string, InstanceRates>();
  private lastAt = 0;
  private timer?: NodeJS.Timeout;
  private running = false;
  private round?: Promise<void>;

  constructor(private readonly o: ScraperOptions) {
    this.intervalMs = o.intervalMs ?? 1000;
    this.timeoutMs = o.timeoutMs ?? 2000;
    this.ring = new SeriesRing(o.points ?? 300);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const tick = (): void => {
      this.round = this.scrapeAll().catch((err: Error) =>
        this.o.logger.warn({ err: err.message }, 'scrape round failed'),
      );
      void this.round.finally(() => {
        if (this.running) this.timer = setTimeout(tick, this.intervalMs);
      });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.round;
  }

  private async fetchOne(url: string | undefined): Promise<Result> {
    if (url === undefined) return { ok: false, problem: 'no metrics URL registered' };
    const at = Date.now();
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(this.timeoutMs) });
      if (!res.ok) return { ok: false, problem: `metrics answered HTTP ${res.status}` };
      return { ok: true, scrape: { at, samples: parsePrometheus(await res.text()) } };
    } catch (err) {
      return { ok: false, problem: `metrics unreachable: ${(err as Error).message}` };
    }
  }

  /** One round: every instance scraped, its rates and the brokers' per-method point. */
  async scrapeAll(): Promise<void> {
    const records = this.o.directory.instances({ includeDraining: true });
    const results = await Promise.all(records.map((r) => this.fetchOne(r.endpoints.metrics)));
    const rates = new Map<string, InstanceRates>();
    const brokerPairs: Array<{ before: Scrape; after: Scrape }> = [];
    const seen = new Set<string>();
    records.forEach((r, i) => {
      const result = results[i] as Result;
      seen.add(r.instanceId);
      if (!result.ok) {
        this.problems.set(r.instanceId, result.problem);
        return;
      }
      this.problems.delete(r.instanceId);
      const before = this.last.get(r.instanceId);
      rates.set(r.instanceId, instanceRates(before, result.scrape));
      if (before && r.role === 'broker') brokerPairs.push({ before, after: result.scrape });
      this.last.set(r.instanceId, result.scrape);
    });
    for (const id of [...this.last.keys()]) if (!seen.has(id)) this.last.delete(id);
    for (const id of [...this.problems.keys()]) if (!seen.has(id)) this.problems.delete(id);
    this.rates = rates;
    this.lastAt = Date.now();
    if (brokerPairs.length > 0) this.ring.push(this.lastAt, methodRates(brokerPairs));
  }

  /** The instance table: Yellow's records now, with the rates of the last round. */
  cluster(): ClusterBody {
    const instances = this.o.directory
      .instances({ includeDraining: true })
      .sort((a, b) => a.role.localeCompare(b.role) || a.instanceId.localeCompare(b.instanceId))
      .map((r) => {
        const row = rowOf(r);
        const rates = this.rates.get(r.instanceId);
        const problem = this.problems.get(r.instanceId);
        return { ...row, ...(rates ?? {}), ...(problem !== undefined ? { problem } : {}) };
      });
    return { at: this.lastAt, intervalMs: this.intervalMs, instances };
  }

  series(): SeriesBody {
    return this.ring.toJSON();
  }
}
