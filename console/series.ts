/**
 * What the console derives from two scrapes of /metrics: an instance's calls/s, errors/s and p99,
 * and per method the calls/s and p99 summed over several instances (the brokers: what clients
 * see). A quantile over instances merges their bucket counts first, as Prometheus'
 * `histogram_quantile(sum by (le) (rate(...)))` does; averaging p99s would be wrong.
 */
import { buckets, quantileMs, type Sample } from '../shared/prometheus';

export interface Scrape {
  /** epoch ms */
  at: number;
  samples: Sample[];
}

export interface InstanceRates {
  callsPerSec: number;
  errorsPerSec: number;
  /** undefined when no call ended between the two scrapes */
  p99Ms?: number;
  /** totals since the instance started */
  calls: number;
  errors: number;
}

export interface MethodRates {
  callsPerSec: number;
  p99Ms?: number;
}

const CALLS = 'noon_calls_total';

/** Calls of a scrape: every outcome, and the ones that were not `ok`; by method when asked. */
function callCounts(samples: Sample[], method?: string): { calls: number; errors: number } {
  let calls = 0;
  let errors = 0;
  for (const s of samples) {
    if (s.name !== CALLS || (method !== undefined && s.labels.method !== method)) continue;
    calls += s.value;
    if (s.labels.outcome !== 'ok') errors += s.value;
  }
  return { calls, errors };
}

/** The methods a scrape counts calls of. */
export function methodsOf(samples: Sample[]): Set<string> {
  const out = new Set<string>();
  for (const s of samples) if (s.name === CALLS && s.labels.method !== undefined) out.add(s.labels.method);
  return out;
}

/** One instance between two scrapes (no rates from a single scrape, nor from a restarted counter). */
export function instanceRates(before: Scrape | undefined, after: Scrape): InstanceRates {
  const now = callCounts(after.samples);
  const seconds = before ? (after.at - before.at) / 1000 : 0;
  if (!before || seconds <= 0) return { callsPerSec: 0, errorsPerSec: 0, ...now };
  const then = callCounts(before.samples);
  const p99Ms = quantileMs(buckets(before.samples), buckets(after.samples), 0.99);
  return {
    callsPerSec: Math.max(0, now.calls - then.calls) / seconds,
    errorsPerSec: Math.max(0, now.errors - then.errors) / seconds,
    ...now,
    ...(p99Ms !== undefined ? { p99Ms } : {}),
  };
}

function addInto(into: Map<number, number>, from: Map<number, number>): void {
  for (const [le, n] of from) into.set(le, (into.get(le) ?? 0) + n);
}

/**
 * Per method, over every pair (one per instance scraped twice): calls/s summed, p99 from the
 * merged bucket counts. Pairs whose counters went back (a restart) are left out.
 */
export function methodRates(pairs: Array<{ before: Scrape; after: Scrape }>): Map<string, MethodRates> {
  const methods = new Set<string>();
  const usable = pairs.filter(({ before, after }) => {
    const ok = after.at > before.at && callCounts(after.samples).calls >= callCounts(before.samples).calls;
    if (ok) for (const m of methodsOf(after.samples)) methods.add(m);
    return ok;
  });
  const out = new Map<string, MethodRates>();
  for (const method of [...methods].sort()) {
    let perSec = 0;
    const then = new Map<number, number>();
    const now = new Map<number, number>();
    for (const { before, after } of usable) {
      const seconds = (after.at - before.at) / 1000;
      const delta = callCounts(after.samples, method).calls - callCounts(before.samples, method).calls;
      perSec += Math.max(0, delta) / seconds;
      addInto(then, buckets(before.samples, { method }));
      addInto(now, buckets(after.samples, { method }));
    }
    const p99Ms = quantileMs(then, now, 0.99);
    out.set(method, { callsPerSec: perSec, ...(p99Ms !== undefined ? { p99Ms } : {}) });
  }
  return out;
}

/** The charts' data, as uPlot takes it: one time axis, and per method one value (or null) per time. */
export interface SeriesBody {
  /** epoch seconds, oldest first */
  times: number[];
  methods: Array<{ method: string; callsPerSec: Array<number | null>; p99Ms: Array<number | null> }>;
}

/** A ring of the last `capacity` points of per-method rates. */
export class SeriesRing {
  private readonly points: Array<{ at: number; rates: Map<string, MethodRates> }> = [];

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 2)
      throw new Error(`a series ring holds at least 2 points, got ${capacity}`);
  }

  get size(): number {
    return this.points.length;
  }

  push(at: number, rates: Map<string, MethodRates>): void {
    this.points.push({ at, rates });
    if (this.points.length > this.capacity) this.points.shift();
  }

  toJSON(): SeriesBody {
    // Only methods called in the window: every known method has a series at zero from the start.
    const names = new Set<string>();
    for (const p of this.points) for (const [m, r] of p.rates) if (r.callsPerSec > 0) names.add(m);
    const round = (v: number | undefined): number | null => (v === undefined ? null : Math.round(v * 1000) / 1000);
    return {
      times: this.points.map((p) => p.at / 1000),
      methods: [...names].sort().map((method) => ({
        method,
        callsPerSec: this.points.map((p) => round(p.rates.get(method)?.callsPerSec)),
        p99Ms: this.points.map((p) => round(p.rates.get(method)?.p99Ms)),
      })),
    };
  }
}
