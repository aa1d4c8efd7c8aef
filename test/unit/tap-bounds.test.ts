/**
 * Spec of the tap's bounds (shared/tap/bounds.ts, shared/tap/hub.ts): the rate cap passes one
 * second's worth and refills evenly, sampling keeps the asked fraction, the queue refuses what does
 * not fit; a tap whose reader is full queues up to its bound, then drops and counts; the hub's
 * hot-path flag is on exactly while a tap is attached.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BoundedQueue, RateCap, Sampler } from '../../shared/tap/bounds';
import { MAX_QUEUED_LINES, MAX_TAPS, TapHub, type OfferedCall } from '../../shared/tap/hub';
import { parseTapQuery, type CallRecord } from '../../shared/tap/record';

const T0 = 1_700_000_000_000;

describe('RateCap', () => {
  test('passes one second of records at once, then refills at the rate', () => {
    const cap = new RateCap(10, T0);
    let passed = 0;
    for (let i = 0; i < 25; i++) if (cap.take(T0)) passed++;
    assert.equal(passed, 10);
    assert.equal(cap.take(T0 + 50), false, 'half a token after 50 ms');
    assert.equal(cap.take(T0 + 100), true, 'one token after 100 ms');
    assert.equal(cap.take(T0 + 100), false);
    let later = 0;
    for (let i = 0; i < 25; i++) if (cap.take(T0 + 60_000)) later++;
    assert.equal(later, 10, 'never more than one second of burst, however long it was idle');
  });

  test('a rate of 0 or below is refused', () => {
    assert.throws(() => new RateCap(0), /above 0/);
    assert.throws(() => new RateCap(-1), /above 0/);
  });
});

describe('Sampler', () => {
  test('keeps the fraction its random source falls under', () => {
    let i = 0;
    const sequence = [0.05, 0.5, 0.09, 0.95, 0.1];
    const s = new Sampler(0.1, () => sequence[i++ % sequence.length] as number);
    assert.deepEqual(
      sequence.map(() => s.keep()),
      [true, false, true, false, false],
    );
    assert.equal(new Sampler(1, () => 0.999).keep(), true);
  });

  test('a fraction outside (0, 1] is refused', () => {
    for (const bad of [0, -0.5, 1.5, Number.NaN]) assert.throws(() => new Sampler(bad), /\(0, 1\]/);
  });
});

describe('BoundedQueue', () => {
  test('keeps order, refuses past its capacity and takes again once emptied', () => {
    const q = new BoundedQueue<number>(3);
    assert.deepEqual(
      [1, 2, 3, 4].map((n) => q.push(n)),
      [true, true, true, false],
    );
    assert.equal(q.length, 3);
    assert.deepEqual([q.shift(), q.shift()], [1, 2]);
    assert.equal(q.push(5), true);
    assert.deepEqual([q.shift(), q.shift(), q.shift()], [3, 5, undefined]);
    assert.equal(q.length, 0);
  });

  test('a long run through a small queue keeps every item in order', () => {
    const q = new BoundedQueue<number>(4);
    const out: number[] = [];
    for (let n = 0; n < 10_000; n++) {
      assert.equal(q.push(n), true);
      if (q.length === 4) for (let v = q.shift(); v !== undefined; v = q.shift()) out.push(v);
    }
    assert.equal(out.length, 10_000);
    assert.ok(out.every((v, i) => v === i));
  });
});

function call(method: string, n = 0): OfferedCall {
  const record: CallRecord = {
    time: T0 + n,
    role: 'broker',
    method,
    service: method.split(':')[0] as string,
    outcome: 'ok',
    latency_ms: 1,
    request_bytes: 10,
    reply_bytes: 20,
  };
  return { record, payload: Buffer.alloc(0) };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

interface Lines {
  lines: string[];
  full: boolean;
  write(line: string): boolean;
}

function sink(): Lines {
  return {
    lines: [],
    full: false,
    write(line) {
      this.lines.push(line);
      return !this.full;
    },
  };
}

const calls = (s: Lines): Array<Record<string, unknown>> =>
  s.lines
    .map((l) => JSON.parse(l) as { type: string; call: Record<string, unknown> })
    .filter((l) => l.type === 'call')
    .map((l) => l.call);

describe('TapHub', () => {
  test('the hot-path flag is on exactly while a tap is attached', () => {
    const hub = new TapHub();
    assert.equal(hub.active, false);
    const a = hub.attach(parseTapQuery(''), { rate: 10, sample: 1 }, sink());
    const b = hub.attach(parseTapQuery(''), { rate: 10, sample: 1 }, sink());
    assert.ok(a && b);
    assert.equal(hub.active, true);
    hub.detach(a);
    assert.equal(hub.active, true, 'one tap is still attached');
    hub.detach(b);
    assert.equal(hub.active, false);
    assert.equal(hub.size, 0);
  });

  test(`at most ${MAX_TAPS} taps attach at once`, () => {
    const hub = new TapHub();
    for (let i = 0; i < MAX_TAPS; i++) assert.ok(hub.attach(parseTapQuery(''), { rate: 1, sample: 1 }, sink()));
    assert.equal(hub.attach(parseTapQuery(''), { rate: 1, sample: 1 }, sink()), undefined);
  });

  test('each tap gets exactly the calls its filter matches, projected to its SELECT', async () => {
    const hub = new TapHub();
    const pings = sink();
    const all = sink();
    hub.attach(
      parseTapQuery("SELECT method, outcome FROM calls WHERE method = 'Sso:ping'"),
      { rate: 1000, sample: 1 },
      pings,
    );
    hub.attach(parseTapQuery(''), { rate: 1000, sample: 1 }, all);
    for (let i = 0; i < 30; i++) hub.offer(call(i % 3 === 0 ? 'Sso:ping' : 'Player:getProfile', i));
    await turn();
    assert.deepEqual(
      calls(pings),
      Array.from({ length: 10 }, () => ({ method: 'Sso:ping', outcome: 'ok' })),
    );
    assert.equal(calls(all).length, 30);
    assert.equal(calls(all)[1]?.method, 'Player:getProfile');
  });

  test('calls over the rate cap are dropped and counted, by the tap and in the drop counter', async () => {
    let counted = 0;
    const hub = new TapHub((n) => (counted += n));
    const s = sink();
    const tap = hub.attach(parseTapQuery(''), { rate: 5, sample: 1 }, s);
    for (let i = 0; i < 12; i++) hub.offer(call('Sso:ping', i));
    await turn();
    assert.equal(calls(s).length, 5);
    assert.equal(tap?.drops.rate, 7);
    assert.equal(counted, 7);
  });

  test(`a reader that stops reading gets ${MAX_QUEUED_LINES} queued lines, the rest dropped; draining delivers the queue in order`, async () => {
    let counted = 0;
    const hub = new TapHub((n) => (counted += n));
    const s = sink();
    s.full = true;
    const tap = hub.attach(parseTapQuery(''), { rate: 1000, sample: 1 }, s);
    assert.ok(tap);
    const offered = MAX_QUEUED_LINES + 1 + 200;
    // the first write is taken (and says "full"), the next MAX_QUEUED_LINES wait, 200 are dropped
    for (let i = 0; i < offered; i++) hub.offer(call('Sso:ping', i));
    await turn();
    assert.equal(s.lines.length, 1);
    assert.equal(tap.drops.queue, 200);
    assert.equal(counted, 200);
    s.full = false;
    tap.drained();
    const got = calls(s);
    assert.equal(got.length, MAX_QUEUED_LINES + 1);
    assert.ok(
      got.every((c, i) => c.time === T0 + i),
      'in the order the calls finished',
    );
  });

  test('nothing is kept for a hub without taps, and a detached tap gets nothing more', async () => {
    const hub = new TapHub();
    const s = sink();
    const tap = hub.attach(parseTapQuery(''), { rate: 100, sample: 1 }, s);
    assert.ok(tap);
    hub.offer(call('Sso:ping'));
    hub.detach(tap);
    await turn();
    assert.equal(s.lines.length, 0);
  });
});
