/**
 * Spec of edge/token-bucket.ts: a bucket starts full with `burst` tokens, refills continuously at
 * `ratePerSec` up to `burst`, and each granted take() spends one whole token.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBucket } from '../../edge/token-bucket';

/** An arbitrary epoch-like start, so no case depends on the clock starting at zero. */
const T0 = 1_700_000_000_000;

interface BucketCase {
  name: string;
  ratePerSec: number;
  burst: number;
  /** [ms after T0, whether take() at that moment is granted] */
  takes: Array<[number, boolean]>;
}

const cases: BucketCase[] = [
  {
    name: 'starts full: burst takes at once are granted, the next is refused',
    ratePerSec: 10,
    burst: 3,
    takes: [
      [0, true],
      [0, true],
      [0, true],
      [0, false],
    ],
  },
  {
    name: 'refills one token per 1/rate seconds',
    ratePerSec: 10,
    burst: 1,
    takes: [
      [0, true],
      [50, false],
      [100, true],
      [150, false],
      [200, true],
    ],
  },
  {
    name: 'a refused take spends nothing: the refill since the last grant still counts',
    ratePerSec: 1,
    burst: 1,
    takes: [
      [0, true],
      [500, false],
      [999, false],
      [1000, true],
    ],
  },
  {
    name: 'fractions of a token accumulate across takes',
    ratePerSec: 4,
    burst: 1,
    takes: [
      [0, true],
      [100, false],
      [200, false],
      [249, false],
      [250, true],
    ],
  },
  {
    name: 'an idle bucket holds at most burst tokens',
    ratePerSec: 100,
    burst: 2,
    takes: [
      [0, true],
      [0, true],
      [60_000, true],
      [60_000, true],
      [60_000, false],
    ],
  },
  {
    name: 'a steady rate at exactly ratePerSec is always granted',
    ratePerSec: 5,
    burst: 1,
    takes: [
      [0, true],
      [200, true],
      [400, true],
      [600, true],
      [800, true],
      [1000, true],
    ],
  },
  {
    name: 'a steady rate above ratePerSec is refused once the burst is spent',
    ratePerSec: 5,
    burst: 2,
    takes: [
      [0, true],
      [100, true],
      [200, true],
      [300, false],
      [400, true],
      [500, false],
    ],
  },
  {
    name: 'rate 0 never refills: burst takes in the lifetime of the bucket',
    ratePerSec: 0,
    burst: 2,
    takes: [
      [0, true],
      [1000, true],
      [86_400_000, false],
    ],
  },
  {
    name: 'burst 0 refuses everything',
    ratePerSec: 1000,
    burst: 0,
    takes: [
      [0, false],
      [1000, false],
      [60_000, false],
    ],
  },
  {
    name: 'a burst below one token refuses everything (a take needs a whole token)',
    ratePerSec: 1000,
    burst: 0.5,
    takes: [
      [0, false],
      [60_000, false],
    ],
  },
  {
    name: 'takes at the same instant do not refill',
    ratePerSec: 1000,
    burst: 1,
    takes: [
      [5, true],
      [5, false],
      [5, false],
      [6, true],
    ],
  },
  {
    name: 'a clock stepping back spends credit, which comes back as the clock returns',
    ratePerSec: 10,
    burst: 2,
    // at 1000 one token is left; stepping back 100 ms takes one token's worth away
    takes: [
      [0, true],
      [1000, true],
      [900, false],
      [1000, true],
      [1000, false],
    ],
  },
];

describe('TokenBucket', () => {
  for (const c of cases) {
    test(`${c.name} (rate ${c.ratePerSec}/s, burst ${c.burst})`, () => {
      const bucket = new TokenBucket(c.ratePerSec, c.burst, T0);
      const granted = c.takes.map(([at]) => bucket.take(T0 + at));
      assert.deepEqual(
        granted,
        c.takes.map(([, expected]) => expected),
      );
    });
  }
});
