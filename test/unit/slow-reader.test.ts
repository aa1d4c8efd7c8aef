/**
 * The slow-reader rule as a table: a reader may be over its soft limits (messages or bytes
 * queued) for at most the grace period; past it, or at once over 4× the byte limit, it is cut off.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeOutbound, type OutboundLimits } from '../../edge/slow-reader';

const LIMITS: OutboundLimits = { outboundQueue: 100, outboundBytes: 1000, outboundGraceMs: 500 };

const CASES: ReadonlyArray<{
  name: string;
  messages: number;
  bytes: number;
  overSince: number | undefined;
  now: number;
  expect: { overSince: number | undefined; cut?: RegExp };
}> = [
  {
    name: 'an empty queue is fine',
    messages: 0,
    bytes: 0,
    overSince: undefined,
    now: 1000,
    expect: { overSince: undefined },
  },
  {
    name: 'just under both limits',
    messages: 99,
    bytes: 1000,
    overSince: undefined,
    now: 1000,
    expect: { overSince: undefined },
  },
  {
    name: 'back under the limits clears the mark',
    messages: 10,
    bytes: 10,
    overSince: 700,
    now: 1000,
    expect: { overSince: undefined },
  },
  {
    name: 'at the message limit starts the grace',
    messages: 100,
    bytes: 0,
    overSince: undefined,
    now: 1000,
    expect: { overSince: 1000 },
  },
  {
    name: 'over the byte limit starts the grace',
    messages: 1,
    bytes: 1001,
    overSince: undefined,
    now: 1000,
    expect: { overSince: 1000 },
  },
  {
    name: 'still over, inside the grace: kept, not cut',
    messages: 150,
    bytes: 0,
    overSince: 1000,
    now: 1500,
    expect: { overSince: 1000 },
  },
  {
    name: 'over for longer than the grace: cut',
    messages: 150,
    bytes: 0,
    overSince: 1000,
    now: 1501,
    expect: { overSince: 1000, cut: /^over 100 messages or 1000 bytes queued for 501 ms$/ },
  },
  {
    name: 'exactly 4× the byte limit is still a soft overrun',
    messages: 1,
    bytes: 4000,
    overSince: undefined,
    now: 1000,
    expect: { overSince: 1000 },
  },
  {
    name: 'over 4× the byte limit: cut at once, whatever the grace',
    messages: 1,
    bytes: 4001,
    overSince: undefined,
    now: 1000,
    expect: { overSince: undefined, cut: /^more than 4000 bytes queued$/ },
  },
];

for (const c of CASES) {
  test(`slow reader: ${c.name}`, () => {
    const v = judgeOutbound(c.messages, c.bytes, c.overSince, c.now, LIMITS);
    assert.equal(v.overSince, c.expect.overSince);
    if (c.expect.cut) assert.match(v.cut ?? '', c.expect.cut);
    else assert.equal(v.cut, undefined);
  });
}

test('a burst that drains within the grace is never cut', () => {
  let overSince: number | undefined;
  const queue = [500, 400, 300, 150, 90, 0]; // messages queued at t = 0, 100, … 500 ms
  for (const [i, messages] of queue.entries()) {
    const v = judgeOutbound(messages, 0, overSince, i * 100, LIMITS);
    assert.equal(v.cut, undefined, `cut at ${i * 100} ms`);
    overSince = v.overSince;
  }
  assert.equal(overSince, undefined);
});
