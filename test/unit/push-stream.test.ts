/**
 * The pure parts of the push stream (shared/push/stream.ts, shared/thrift/seqid.ts): entries,
 * what a reader after a seq gets (the held pushes, the range it missed), the receiver's
 * duplicate and gap logic, and the seqid rewrite; and the window trimming of the in-process store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeEntry, parseEntry, replayAfter, StreamCursor, type StoredPush } from '../../shared/push/stream';
import { withSeqid } from '../../shared/thrift/seqid';
import { peekHeader } from '../../shared/thrift/header';
import { events } from '../../shared/thrift/events';
import { transcodeMessage } from '../../edge/transcode';
import { MemoryKv } from '../../shared/data/memory-kv';
import { Wallet } from '../../shared/protocol';

const push = (seq: number, atMs = 1000): StoredPush => ({
  seq,
  atMs,
  name: 'Events:walletChanged',
  message: Buffer.from([seq]),
});
const seqs = (ps: StoredPush[]): number[] => ps.map((p) => p.seq);
const now = { nowMs: 1000, ageMs: 500, max: 100 };

test('an entry round-trips through the store format, and a bad one is refused naming the field', () => {
  const msg = events.walletChanged(new Wallet({ soft: 1, hard: 2 }));
  const p = parseEntry(`7 ${encodeEntry(1234, 'Events:walletChanged', msg)}`);
  assert.deepEqual(p, { seq: 7, atMs: 1234, name: 'Events:walletChanged', message: msg });
  assert.throws(() => parseEntry('x 1 a b'), /bad seq "x"/);
  assert.throws(() => parseEntry('1 a b'), /3 fields, not 4/);
  assert.throws(() => encodeEntry(1, 'bad name', msg), /not "Service:method"/);
});

test('a reader gets the pushes after its seq, in order, and nothing missed when the window holds them', () => {
  const r = replayAfter(2, 5, [push(5), push(3), push(4), push(2)], now);
  assert.deepEqual(seqs(r.pushes), [3, 4, 5]);
  assert.equal(r.missed, undefined);
  assert.equal(r.lastSeq, 5);
  assert.deepEqual(seqs(replayAfter(5, 5, [push(5)], now).pushes), [], 'up to date: nothing');
});

test('pushes trimmed out of the window are reported as one missed range', () => {
  const r = replayAfter(2, 10, [push(8), push(9), push(10)], now);
  assert.deepEqual(r.missed, { fromSeq: 3, toSeq: 7 });
  assert.deepEqual(seqs(r.pushes), [8, 9, 10]);
  const gone = replayAfter(2, 10, [], now);
  assert.deepEqual(gone.missed, { fromSeq: 3, toSeq: 10 }, 'an expired window: everything after the reader');
});

test('pushes older than the window age count as missed', () => {
  const r = replayAfter(0, 3, [push(1, 100), push(2, 400), push(3, 900)], now);
  assert.deepEqual(seqs(r.pushes), [3]);
  assert.deepEqual(r.missed, { fromSeq: 1, toSeq: 2 });
});

test('at most max pushes per read; a reader ahead of the stream is told to resync', () => {
  assert.deepEqual(seqs(replayAfter(0, 3, [push(1), push(2), push(3)], { ...now, max: 2 }).pushes), [1, 2]);
  const ahead = replayAfter(9, 3, [push(3)], now);
  assert.deepEqual(ahead.missed, { fromSeq: 1, toSeq: 3 });
  assert.deepEqual(ahead.pushes, []);
  assert.equal(replayAfter(9, 0, [], now).missed, undefined, 'an empty stream has nothing to resync');
});

test('the cursor delivers each seq once, in order, and names a gap', () => {
  const c = new StreamCursor(3);
  assert.equal(c.offer(3), 'duplicate');
  assert.equal(c.offer(4), 'deliver');
  assert.equal(c.offer(4), 'duplicate');
  assert.equal(c.offer(6), 'gap');
  assert.equal(c.last, 4, 'a gap does not move the cursor');
  c.advanceTo(6);
  assert.equal(c.offer(5), 'duplicate');
  c.skipTo(10);
  assert.equal(c.offer(11), 'deliver');
  c.skipTo(2);
  assert.equal(c.last, 11, 'never backwards');
});

test('withSeqid rewrites the seqid of compact and binary messages and keeps the body', () => {
  const compact = events.walletChanged(new Wallet({ soft: 5, hard: 6 }));
  for (const seq of [1, 127, 128, 300_000, 0x7fffffff]) {
    const out = withSeqid(compact, seq);
    const h = peekHeader(out, 64);
    assert.equal(h.seqid, seq);
    assert.equal(h.name, 'Events:walletChanged');
    assert.deepEqual(withSeqid(out, 0), compact, 'back to 0: the same bytes');
    const binary = transcodeMessage(out, 'binary');
    assert.equal(peekHeader(binary, 64).seqid, seq, 'transcoding keeps the seq');
    assert.equal(peekHeader(withSeqid(binary, 9), 64).seqid, 9);
  }
  assert.throws(() => withSeqid(compact, -1), /out of range/);
  assert.throws(() => withSeqid(Buffer.from([1, 2]), 1), /not a compact or binary/);
});

test('the in-process store numbers appends and trims the window by count and by bytes, never the newest', async () => {
  const kv = new MemoryKv();
  const o = (count: number, bytes: number) => ({
    counter: 'pushSeq',
    read: 'broker',
    window: { count, bytes, ttlMs: 60_000 },
    hashTtlMs: 60_000,
  });
  await kv.hset('h', 'broker', 'b1');
  for (let i = 1; i <= 5; i++)
    assert.deepEqual(await kv.logAppend('h', 'l', `e${i}`, o(3, 1000)), { seq: i, field: 'b1' });
  assert.deepEqual(await kv.logRead('h', 'pushSeq', 'l'), { seq: 5, entries: ['3 e3', '4 e4', '5 e5'] });
  // each entry is 4 bytes ("6 e6"): 9 bytes hold two
  await kv.logAppend('h', 'l', 'e6', o(3, 9));
  assert.deepEqual((await kv.logRead('h', 'pushSeq', 'l')).entries, ['5 e5', '6 e6']);
  await kv.logAppend('h', 'l', 'a-very-long-entry', o(3, 9));
  assert.deepEqual((await kv.logRead('h', 'pushSeq', 'l')).entries, ['7 a-very-long-entry'], 'the newest stays');
  assert.equal(await kv.hget('h', 'pushSeq:bytes'), String('7 a-very-long-entry'.length));
  assert.deepEqual(await kv.logRead('none', 'pushSeq', 'none'), { seq: 0, entries: [] });
  await kv.close();
});
