/**
 * A reader of the Prometheus text format, the subset prom-client writes (noon top, noon loadtest,
 * the console, tests), and the sums and histogram quantiles computed from two scrapes of it.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function number(text: string): number {
  return text === '+Inf' ? Infinity : text === '-Inf' ? -Infinity : Number(text);
}

export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL))
      labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const value = number(m[3] as string);
    if (!Number.isNaN(value)) out.push({ name: m[1] as string, labels, value });
  }
  return out;
}

/** Sum of a metric's samples whose labels include `where`. */
export function sum(samples: Sample[], name: string, where: Record<string, string> = {}): number {
  let total = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(where).every(([k, v]) => s.labels[k] === v)) total += s.value;
  }
  return total;
}

/** Cumulative bucket counts of noon_call_duration_seconds by upper bound, summed over the series whose labels include `where` (every method by default). */
export function buckets(samples: Sample[], where: Record<string, string> = {}): Map<number, number> {
  const out = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== 'noon_call_duration_seconds_bucket' || s.labels.le === undefined) continue;
    if (!Object.entries(where).every(([k, v]) => s.labels[k] === v)) continue;
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
