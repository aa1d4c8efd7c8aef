/**
 * The reply cache (rpc/reply-cache.ts, docs/retries.md): a retried call gets its first outcome;
 * a duplicate arriving while the first runs waits for it (here and on another instance sharing
 * the store); bounds per session, on sessions and on age; a failing shared store never stops a
 * call; outcomes survive the store's encoding (rpc/kv-outcomes.ts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryKv } from '../../shared/data/memory-kv';
import { NoonError } from '../../shared/errors';
import { decodeOutcome, encodeOutcome, KvOutcomes } from '../../rpc/kv-outcomes';
import { ReplyCache, type CallOutcome, type SharedOutcomes } from '../../rpc/reply-cache';

function outcome(text: string): CallOutcome {
  return { payload: Buffer.from(text), directives: [] };
}

/** A run() the test finishes by hand, counting how often it was started. */
function gate(): { run: () => Promise<CallOutcome>; finish(o: CallOutcome): void; started: () => number } {
  let started = 0;
  const waiting: Array<(o: CallOutcome) => void> = [];
  return {
    run: () => {
      started++;
      return new Promise((resolve) => waiting.push(resolve));
    },
    finish: (o) => {
      for (const w of waiting.splice(0)) w(o);
    },
    started: () => started,
  };
}

const far = (): number => Date.now() + 60_000;

describe('ReplyCache in one instance', () => {
  test('a retry gets the first outcome; the call ran once', async () => {
    const cache = new ReplyCache({ perSession: 4, sessions: 4, ageMs: 60_000 });
    let runs = 0;
    const run = (): Promise<CallOutcome> => Promise.resolve(outcome(`run ${++runs}`));
    const a = await cache.answer('s1', 'r1', far(), run);
    const b = await cache.answer('s1', 'r1', far(), run);
    assert.equal(runs, 1);
    assert.equal(a.payload.toString(), 'run 1');
    assert.equal(b.payload.toString(), 'run 1');
    assert.equal((await cache.answer('s1', 'r2', far(), run)).payload.toString(), 'run 2', 'another id runs');
    assert.equal((await cache.answer('s2', 'r1', far(), run)).payload.toString(), 'run 3', 'another session runs');
  });

  test('duplicates arriving while the first runs wait for its outcome', async () => {
    const cache = new ReplyCache({ perSession: 4, sessions: 4, ageMs: 60_000 });
    const g = gate();
    const answers = [1, 2, 3].map(() => cache.answer('s1', 'r1', far(), g.run));
    assert.equal(cache.runningCount, 1);
    g.finish(outcome('first'));
    const got = await Promise.all(answers);
    assert.equal(g.started(), 1, 'ran once for three arrivals');
    assert.deepEqual(
      got.map((o) => o.payload.toString()),
      ['first', 'first', 'first'],
    );
    assert.equal(cache.runningCount, 0);
  });

  test('errors are outcomes too: a retry gets the same error', async () => {
    const cache = new ReplyCache({ perSession: 4, sessions: 4, ageMs: 60_000 });
    let runs = 0;
    const failing = (): Promise<CallOutcome> => {
      runs++;
      return Promise.resolve({ payload: Buffer.alloc(0), directives: [], error: new NoonError('UNAVAILABLE', 'db') });
    };
    await cache.answer('s1', 'r1', far(), failing);
    const again = await cache.answer('s1', 'r1', far(), failing);
    assert.equal(runs, 1);
    assert.equal(again.error?.code, 'UNAVAILABLE');
  });

  test('at most perSession outcomes per session, the oldest forgotten first', async () => {
    const cache = new ReplyCache({ perSession: 2, sessions: 10, ageMs: 60_000 });
    for (const id of ['r1', 'r2', 'r3']) await cache.answer('s1', id, far(), () => Promise.resolve(outcome(id)));
    assert.equal(cache.lookup('s1', 'r1'), undefined, 'the oldest is gone');
    assert.equal(cache.lookup('s1', 'r2')?.payload.toString(), 'r2');
    assert.equal(cache.lookup('s1', 'r3')?.payload.toString(), 'r3');
  });

  test('at most `sessions` sessions, the least recently used forgotten first', async () => {
    const cache = new ReplyCache({ perSession: 2, sessions: 2, ageMs: 60_000 });
    await cache.answer('s1', 'r', far(), () => Promise.resolve(outcome('s1')));
    await cache.answer('s2', 'r', far(), () => Promise.resolve(outcome('s2')));
    assert.ok(cache.lookup('s1', 'r'), 's1 used again: s2 is now the least recent');
    await cache.answer('s3', 'r', far(), () => Promise.resolve(outcome('s3')));
    assert.equal(cache.sessionCount, 2);
    assert.equal(cache.lookup('s2', 'r'), undefined);
    assert.ok(cache.lookup('s1', 'r'));
    assert.ok(cache.lookup('s3', 'r'));
  });

  test('an outcome older than ageMs is forgotten and the call runs again', async () => {
    let now = 1_000_000;
    const cache = new ReplyCache({ perSession: 4, sessions: 4, ageMs: 1000, now: () => now });
    let runs = 0;
    const run = (): Promise<CallOutcome> => Promise.resolve(outcome(`run ${++runs}`));
    await cache.answer('s1', 'r1', now + 5000, run);
    now += 999;
    assert.equal((await cache.answer('s1', 'r1', now + 5000, run)).payload.toString(), 'run 1', 'still fresh');
    now += 1;
    assert.equal((await cache.answer('s1', 'r1', now + 5000, run)).payload.toString(), 'run 2', 'aged out');
    assert.equal(cache.sessionCount, 1);
  });

  test('bad bounds are refused, naming the bound', () => {
    assert.throws(() => new ReplyCache({ perSession: 0, sessions: 1, ageMs: 1 }), /perSession/);
    assert.throws(() => new ReplyCache({ perSession: 1, sessions: 1.5, ageMs: 1 }), /sessions/);
  });
});

describe('ReplyCache over a shared store (two instances)', () => {
  test('a retry on the other instance gets the outcome; a duplicate there waits for the first', async () => {
    const kv = new MemoryKv();
    const a = new ReplyCache({
      perSession: 4,
      sessions: 4,
      ageMs: 60_000,
      shared: new KvOutcomes(kv, 'chat'),
      pollMs: 5,
    });
    const b = new ReplyCache({
      perSession: 4,
      sessions: 4,
      ageMs: 60_000,
      shared: new KvOutcomes(kv, 'chat'),
      pollMs: 5,
    });
    const g = gate();
    const first = a.answer('s1', 'r1', far(), g.run);
    // wait until a holds the claim, then send the duplicate to b
    while (g.started() === 0) await new Promise((r) => setImmediate(r));
    let bRuns = 0;
    const dup = b.answer('s1', 'r1', far(), () => Promise.resolve(outcome(`b ran ${++bRuns}`)));
    g.finish(outcome('from a'));
    assert.equal((await first).payload.toString(), 'from a');
    assert.equal((await dup).payload.toString(), 'from a', 'b waited for the first outcome');
    const later = await b.answer('s1', 'r1', far(), () => Promise.resolve(outcome('b again')));
    assert.equal(later.payload.toString(), 'from a');
    assert.equal(bRuns, 0, 'b never ran the call');
    assert.equal(await kv.get('reply:leaderboard:{s1}:r1'), null, 'keys are per service role');
    await kv.close();
  });

  test('a duplicate that waits past its deadline answers TIMEOUT and runs nothing', async () => {
    const kv = new MemoryKv();
    const shared = new KvOutcomes(kv, 'duel');
    assert.equal(await shared.claim('{s1}:r1', 60_000), 'claimed', 'someone else holds it');
    const cache = new ReplyCache({ perSession: 4, sessions: 4, ageMs: 60_000, shared, pollMs: 5 });
    let runs = 0;
    const got = await cache.answer('s1', 'r1', Date.now() + 50, () => Promise.resolve(outcome(`run ${++runs}`)));
    assert.equal(runs, 0);
    assert.equal(got.error?.code, 'TIMEOUT');
    assert.equal(cache.lookup('s1', 'r1'), undefined, 'an unknown outcome is not remembered');
    await kv.close();
  });

  test('a shared store that fails never stops the call (it is reported)', async () => {
    const broken: SharedOutcomes = {
      claim: () => Promise.reject(new NoonError('UNAVAILABLE', 'redis down')),
      put: () => Promise.reject(new NoonError('UNAVAILABLE', 'redis down')),
    };
    const errors: string[] = [];
    const cache = new ReplyCache({
      perSession: 4,
      sessions: 4,
      ageMs: 60_000,
      shared: broken,
      onSharedError: (e) => errors.push(e.message),
    });
    let runs = 0;
    const run = (): Promise<CallOutcome> => Promise.resolve(outcome(`run ${++runs}`));
    assert.equal((await cache.answer('s1', 'r1', far(), run)).payload.toString(), 'run 1');
    assert.equal((await cache.answer('s1', 'r1', far(), run)).payload.toString(), 'run 1', 'still remembered here');
    assert.equal(runs, 1);
    assert.deepEqual(errors, ['UNAVAILABLE: redis down']);
  });

  test('outcomes survive the store encoding: payload bytes, directives, error', () => {
    const o: CallOutcome = {
      payload: Buffer.from([0x82, 0x41, 0x00, 0xff]),
      directives: [{ type: 'bind', service: 'duel', instanceId: 'duel-1', sessionId: 's1' }],
      error: new NoonError('STATE_LOST', 'gone', false),
    };
    const back = decodeOutcome(encodeOutcome(o));
    assert.deepEqual(back.payload, o.payload);
    assert.deepEqual(back.directives, o.directives);
    assert.equal(back.error?.code, 'STATE_LOST');
    assert.equal(back.error?.message, o.error?.message);
    assert.equal(back.error?.retryable, false);
  });
});
