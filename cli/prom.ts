/**
 * What `noon top` derives from scrapes of /metrics (parsed by shared/prometheus.ts): calls/s,
 * errors/s and p99 from histogram bucket deltas between two scrapes (interpolated within a bucket).
 */

import { buckets, parsePrometheus, quantileMs, sum, type Sample } from '../shared/prometheus';

export { buckets, quantileMs, sum, type Sample };

/** The samples of one /metrics answer. */
export const parseProm = parsePrometheus;

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
