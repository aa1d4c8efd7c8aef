/**
 * Spec of services/chat/room-rate.ts: a room's bucket starts full with `burst` messages, refills
 * at `ratePerSec` up to `burst`; take(want) grants whole messages, all of `want` it has saved, or
 * nothing until min(want, grain) have accrued (grain = 50 ms of the rate); delayMs says when.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RoomRate } from '../../services/chat/room-rate';

/** An arbitrary epoch-like start, so no case depends on the clock starting at zero. */
const T0 = 1_700_000_000_000;

interface RateCase {
  name: string;
  ratePerSec: number;
  burst?: number;
  /** [ms after T0, messages waiting, granted, delayMs() asked right after (omitted: not asked)] */
  steps: Array<[number, number, number, number?]>;
}

const cases: RateCase[] = [
  {
    name: 'a quiet room gets every message at once',
    ratePerSec: 500,
    steps: [
      [0, 1, 1],
      [20, 1, 1],
      [40, 3, 3],
    ],
  },
  {
    name: 'starts full: a burst of one second is granted, then nothing until a grain (25 = 50 ms) accrues',
    ratePerSec: 500,
    steps: [
      [0, 512, 500, 50],
      [0, 512, 0, 50],
      [49, 512, 0, 1],
      [50, 512, 25, 50],
      [100, 512, 25],
    ],
  },
  {
    name: 'a saved-up share is spent in one batch, never more than burst',
    ratePerSec: 500,
    steps: [
      [0, 500, 500],
      [400, 512, 200],
      [10_000, 512, 500],
    ],
  },
  {
    name: 'fewer waiting than a grain: granted as soon as that many accrued',
    ratePerSec: 500,
    steps: [
      [0, 500, 500],
      [2, 3, 0, 4],
      [6, 3, 3],
    ],
  },
  {
    name: 'a slow room: grain of 1, one message per 1/rate',
    ratePerSec: 10,
    steps: [
      [0, 20, 10, 100],
      [95, 20, 0, 5],
      [100, 20, 1],
      [350, 20, 2],
    ],
  },
  {
    name: 'an explicit burst smaller than a grain caps the grain',
    ratePerSec: 1000,
    burst: 4,
    steps: [
      [0, 10, 4, 4],
      [4, 10, 4],
    ],
  },
  {
    name: 'a clock that steps back grants nothing new',
    ratePerSec: 100,
    steps: [
      [1000, 100, 100],
      [0, 5, 0],
      [1050, 5, 5],
    ],
  },
];

describe('RoomRate', () => {
  for (const c of cases)
    test(c.name, () => {
      const r = new RoomRate(c.ratePerSec, T0, c.burst);
      for (const [i, [at, want, granted, delay]] of c.steps.entries()) {
        assert.equal(r.take(want, T0 + at), granted, `step ${i}: take(${want}) at +${at} ms`);
        if (delay !== undefined) assert.equal(r.delayMs(want, T0 + at), delay, `step ${i}: delayMs(${want})`);
      }
    });

  test('over any window a flooded room is granted at most burst + rate × window', () => {
    const r = new RoomRate(500, T0);
    const grants: Array<[number, number]> = [];
    for (let t = 0; t <= 5000; t += 7) {
      const n = r.take(512, T0 + t);
      if (n > 0) grants.push([t, n]);
    }
    for (let i = 0; i < grants.length; i++) {
      let sum = 0;
      for (let j = i; j < grants.length; j++) {
        sum += (grants[j] as [number, number])[1];
        const window = (grants[j] as [number, number])[0] - (grants[i] as [number, number])[0];
        assert.ok(sum <= 500 + (500 * window) / 1000, `${sum} granted in ${window} ms`);
      }
    }
    // and it is not starved either: a second's worth per second after the burst
    const total = grants.reduce((a, [, n]) => a + n, 0);
    assert.ok(total >= 500 + 500 * 4.9, `granted ${total} in 5 s`);
  });

  test('refuses a rate that is not positive', () => {
    assert.throws(() => new RoomRate(0, T0), RangeError);
    assert.throws(() => new RoomRate(10, T0, 0), RangeError);
  });
});
