/** `noon top`'s quantiles from histogram buckets, interpolated as Prometheus' histogram_quantile does. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quantileMs } from '../../cli/prom';

/** Cumulative counts by upper bound (seconds), as the /metrics buckets are. */
const hist = (pairs: [number, number][]): Map<number, number> => new Map(pairs);
const none = new Map<number, number>();

const cases: { what: string; before?: Map<number, number>; after: Map<number, number>; q: number; ms?: number }[] = [
  {
    what: 'inside a bucket, linearly between its bounds (not the upper bound)',
    // 100 calls, all in (0.01, 0.05]: p99 is 99 % of the way from 10 ms to 50 ms
    after: hist([
      [0.01, 0],
      [0.05, 100],
      [0.1, 100],
      [Infinity, 100],
    ]),
    q: 0.99,
    ms: 10 + 40 * 0.99,
  },
  {
    what: 'the median across buckets',
    // 50 calls <= 10 ms, 50 more in (10, 50]: rank 50 is the top of the first bucket
    after: hist([
      [0.01, 50],
      [0.05, 100],
      [Infinity, 100],
    ]),
    q: 0.5,
    ms: 10,
  },
  {
    what: 'the first bucket starts at 0',
    after: hist([
      [0.004, 10],
      [Infinity, 10],
    ]),
    q: 0.5,
    ms: 2,
  },
  {
    what: 'a rank in +Inf answers the highest finite bound',
    after: hist([
      [0.01, 1],
      [0.05, 2],
      [Infinity, 100],
    ]),
    q: 0.99,
    ms: 50,
  },
  {
    what: 'only the calls between two scrapes count',
    before: hist([
      [0.01, 1000],
      [0.05, 1000],
      [Infinity, 1000],
    ]),
    after: hist([
      [0.01, 1000],
      [0.05, 1010],
      [Infinity, 1010],
    ]),
    q: 0.5,
    ms: 10 + 40 * 0.5,
  },
  {
    what: 'no calls: no quantile',
    after: hist([
      [0.01, 0],
      [Infinity, 0],
    ]),
    q: 0.99,
  },
];

for (const c of cases)
  test(c.what, () => {
    const got = quantileMs(c.before ?? none, c.after, c.q);
    if (c.ms === undefined) assert.equal(got, undefined);
    else assert.ok(got !== undefined && Math.abs(got - c.ms) < 1e-9, `expected ${c.ms} ms, got ${got}`);
  });
