/**
 * Spec of the pure parts of jobs: the retry backoff (shared/jobs/backoff.ts), a dispatcher's
 * bookkeeping (shared/jobs/dispatch-book.ts), the PUSH/PULL job message (shared/wire/job-frames.ts),
 * and what counts as a handler's refusal (rpc/outbox-api.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { retryDelayMs } from '../../shared/jobs/backoff';
import { DispatchBook } from '../../shared/jobs/dispatch-book';
import { decodeJob, encodeJob, JOB_TAG, type JobMessage } from '../../shared/wire/job-frames';
import { defineJob, isRefusal, JobRefused } from '../../rpc/outbox-api';
import { NoonError } from '../../shared/errors';
import { DuelFinished, ErrorCode, GameError } from '../../shared/protocol';
import { decodeStruct, encodeStruct } from '../../shared/thrift/struct-codec';

const policy = { baseMs: 100, maxMs: 1000 };

test('backoff doubles from the base per attempt, up to the cap', () => {
  const top = (a: number): number => retryDelayMs(a, policy, () => 0.999999);
  assert.deepEqual([1, 2, 3, 4, 5, 6].map(top), [100, 200, 400, 800, 1000, 1000]);
  assert.equal(
    retryDelayMs(1000, policy, () => 0.999999),
    1000,
    'a huge attempt number stays at the cap',
  );
});

test('backoff jitter keeps each wait within [half, full]', () => {
  assert.equal(
    retryDelayMs(3, policy, () => 0),
    200,
  );
  for (let i = 0; i < 200; i++) {
    const d = retryDelayMs(3, policy);
    assert.ok(d >= 200 && d <= 400, `${d} within [200, 400]`);
  }
});

test('backoff refuses a bad attempt or policy, naming it', () => {
  assert.throws(() => retryDelayMs(0, policy), /attempt must be an integer ≥ 1, got 0/);
  assert.throws(() => retryDelayMs(1, { baseMs: 0, maxMs: 1 }), /0 < baseMs ≤ maxMs/);
  assert.throws(() => retryDelayMs(1, { baseMs: 10, maxMs: 5 }), /0 < baseMs ≤ maxMs/);
});

test('the book never lets more than its window out', () => {
  const book = new DispatchBook(3);
  assert.equal(book.room(), 3);
  book.sent('1', 'w1', 0);
  book.sent('2', 'w1', 0);
  book.sent('3', 'w2', 0);
  assert.equal(book.room(), 0);
  assert.equal(book.outstanding, 3);
});

test('reconciling with the outbox frees what finished, whatever happened to its message', () => {
  const book = new DispatchBook(4);
  for (const id of ['1', '2', '3']) book.sent(id, 'w1', 0);
  assert.equal(book.reconcile(['2', '99']), 2, 'jobs 1 and 3 are no longer running');
  assert.equal(book.outstanding, 1);
  assert.equal(book.room(), 3);
  assert.equal(book.reconcile(['2']), 0);
});

test('the least-loaded worker gets the next job; ties go to the first listed; tried ones are skipped', () => {
  const book = new DispatchBook(10);
  assert.equal(book.pick([]), undefined);
  assert.equal(book.pick(['a', 'b']), 'a');
  book.sent('1', 'a', 0);
  assert.equal(book.pick(['a', 'b']), 'b');
  book.sent('2', 'b', 0);
  book.sent('3', 'b', 0);
  assert.equal(book.pick(['a', 'b']), 'a');
  assert.equal(book.pick(['a', 'b'], new Set(['a'])), 'b');
  assert.equal(book.pick(['a', 'b'], new Set(['a', 'b'])), undefined);
});

test('a worker that left hands back exactly the jobs sent to it', () => {
  const book = new DispatchBook(10);
  book.sent('1', 'a', 0);
  book.sent('2', 'b', 0);
  book.sent('3', 'a', 0);
  assert.deepEqual(book.takeWorker('a').sort(), ['1', '3']);
  assert.equal(book.outstanding, 1);
  assert.equal(book.loadOf('a'), 0);
  assert.deepEqual(book.takeWorker('a'), []);
});

test('overdue lists what was sent longer ago than the bound', () => {
  const book = new DispatchBook(10);
  book.sent('1', 'a', 1000);
  book.sent('2', 'a', 5000);
  assert.deepEqual(book.overdue(7000, 3000), ['1']);
});

test('a window below 1 is refused', () => {
  assert.throws(() => new DispatchBook(0), /window must be an integer ≥ 1/);
});

const msg: JobMessage = {
  id: '42',
  kind: 'duel.finished',
  attempt: 2,
  enqueuedAt: 1_700_000_000_000,
  key: 'k',
  payload: Buffer.from([1, 2, 3]),
};

test('a job message survives the wire', () => {
  assert.deepEqual(decodeJob(encodeJob(msg), 1024), msg);
  assert.deepEqual(decodeJob(encodeJob({ ...msg, key: null }), 1024).key, null);
});

test('a malformed job message is refused with what is wrong', () => {
  const [tag, header, payload] = encodeJob(msg) as [Buffer, Buffer, Buffer];
  const bad = (frames: Buffer[], re: RegExp): void => assert.throws(() => decodeJob(frames, 1024), re);
  bad([tag, header], /3 frames, got 2/);
  bad([Buffer.from('other/1'), header, payload], /unknown job message tag/);
  bad([tag, Buffer.from('{'), payload], /header is not JSON/);
  bad([tag, Buffer.alloc(2000, 32), payload], /header of 2000 bytes/);
  bad([tag, header, Buffer.alloc(2000)], /payload of 2000 bytes exceeds 1024/);
  const h = (o: object): Buffer => Buffer.from(JSON.stringify({ ...JSON.parse(header.toString()), ...o }));
  bad([tag, h({ id: 'x' }), payload], /id must be a decimal string/);
  bad([tag, h({ kind: '' }), payload], /kind must be a non-empty string/);
  bad([tag, h({ attempt: 0 }), payload], /attempt must be an integer ≥ 1/);
  bad([tag, h({ key: 5 }), payload], /key must be a string or null/);
  assert.equal(JOB_TAG, 'noon-job/1');
});

test('refusals: JobRefused, a GameError that is not retryable, an undecodable value; not other errors', () => {
  assert.equal(isRefusal(new JobRefused('no such player')), true);
  assert.equal(isRefusal(new GameError({ code: ErrorCode.NOT_FOUND, message: 'x', retryable: false })), true);
  assert.equal(isRefusal(new GameError({ code: ErrorCode.BUSY, message: 'x', retryable: true })), false);
  assert.equal(isRefusal(new NoonError('BAD_REQUEST', 'payload is not a X', false)), true);
  assert.equal(isRefusal(new NoonError('UNAVAILABLE', 'database away')), false);
  assert.equal(isRefusal(new Error('connection reset')), false);
});

test('a job value is its IDL struct in compact bytes; other bytes are refused naming the struct', () => {
  const v = new DuelFinished({
    duelId: 'd1',
    players: ['a', 'b'],
    winner: 'a',
    reason: 'bang',
    stake: 5,
    endedAtMs: 7,
  });
  const back = decodeStruct(DuelFinished, encodeStruct(v));
  assert.equal(back.duelId, 'd1');
  assert.deepEqual(back.players, ['a', 'b']);
  assert.equal(Number(back.stake?.toString()), 5);
  assert.throws(
    () => decodeStruct(DuelFinished, Buffer.concat([encodeStruct(v), Buffer.from([0])])),
    /not a DuelFinished: 1 bytes left/,
  );
  assert.throws(() => decodeStruct(DuelFinished, Buffer.from([0x18, 0xff, 0xff, 0xff, 0x7f])), /not a DuelFinished/);
});

test('job names and options are checked when defined', () => {
  assert.throws(() => defineJob('Bad Name', DuelFinished), /job name "Bad Name" must be 1..64 of \[a-z0-9_.:-\]/);
  assert.throws(
    () => defineJob('ok', DuelFinished, { maxAttempts: 0 }),
    /maxAttempts must be an integer 1..1000, got 0/,
  );
  assert.equal(defineJob('ok', DuelFinished).maxAttempts, 10);
});
