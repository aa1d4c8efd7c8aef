/**
 * What `noon top` derives from scrapes of /metrics (parsed by shared/prometheus.ts): calls/s,
 * errors/s and p99 from histogram bucket deltas between two scrapes (interpolated within a bucket).
 */

import { parsePrometheus, type Sample } from '../shared/prometheus';

export { type Sample };

/** The samples of one /metrics answer. */
export const parseProm = parsePrometheus;

/** Sum of a metric's samples whose labels include `where`. */
export function sum(samples: Sample[], name: string, where: Record<string, string> = {}): number {
  let total = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(where).every(([k, v]) => s.labels[k] === v)) total += s.value;
  }
  return total;
}

/** Calls by method (all outcomes) from noon_calls_total. */
export function callsByMethod(samples: Sample[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples) {
    if (s.name !== 'noon_calls_total') continue;
    const m = s.labels.method ?? '';
    out.set(m, (out.get(m) ?? 0) + s.value);
  }
  return out;
}

/** Cumulative bucket counts of noon_call_duration_seconds over every method, by upper bound. */
export function buckets(samples: Sample[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== 'noon_call_duration_seconds_bucket' || s.labels.le === undefined) continue;
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    out.set(le, (out.get(le) ?? 0) + s.value);
  }
  return out;
}

/**
 * The q-quantile in ms of the calls between two scrapes, as Prometheus' histogram_quantile
 * computes it: find the bucket holding rank q·total, then interpolate linearly inside it
 * (between the bucket below's bound, or 0, and its own). A rank in the +Inf bucket answers the
 * highest finite bound: nothing more is known. Undefined when no call was counted.
 */
export function quantileMs(before: Map<number, number>, after: Map<number, number>, q: number): number | undefined {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  if (total <= 0 || bounds.length === 0) return undefined;
  const rank = Math.min(1, Math.max(0, q)) * total;
  let lower = 0;
  let below = 0;
  for (const le of bounds) {
    const count = (after.get(le) ?? 0) - (before.get(le) ?? 0);
    if (count >= rank && count > 0) {
      if (le === Infinity) return lower * 1000;
      const inBucket = count - below;
      const frac = inBucket > 0 ? (rank - below) / inBucket : 1;
      return (lower + (le - lower) * frac) * 1000;
    }
    lower = le;
    below = count;
  }
  return undefined;
}

export interface Rates {
  callsPerSec: number;
  errorsPerSec: number;
  p99Ms?: number;
  calls: number;
  errors: number;
}

export function rates(before: Sample[] | undefined, after: Sample[], seconds: number): Rates {
  const calls = sum(after, 'noon_calls_total');
  const errors = sum(after, 'noon_calls_total', { outcome: 'error' });
  if (!before || seconds <= 0) return { callsPerSec: 0, errorsPerSec: 0, calls, errors };
  const p99Ms = quantileMs(buckets(before), buckets(after), 0.99);
  return {
    callsPerSec: Math.max(0, calls - sum(before, 'noon_calls_total')) / seconds,
    errorsPerSec: Math.max(0, errors - sum(before, 'noon_calls_total', { outcome: 'error' })) / seconds,
    calls,
    errors,
    ...(p99Ms !== undefined ? { p99Ms } : {}),
  };
}
