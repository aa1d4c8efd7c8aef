// Chat service on a real in-process cluster: 2 chat instances, real Redis (unique key prefix per
// database kind), and a raw ZeroMQ SUB socket on the room owner's PUB; every test runs on PGlite
// and on real Postgres (throwaway schema), each with its own cluster.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import * as zmq from 'zeromq';
import { silentLogger } from '../../shared/log';
import type { Db } from '../../shared/data/sql';
import { RedisKv } from '../../shared/data/redis-kv';
import { decodeBatch } from '../../shared/wire/frames';
import { ErrorCode } from '../../shared/protocol';
import { chatModule, topicOf } from '../../services/chat';
import { startTestCluster, type TestCluster } from '../support/cluster';
import { TestBroker, decodeEvent } from '../support/svc-duel-broker';
import { gameError, i64, num, untyped } from '../support/svc-lb-util';
import { DB_KINDS, openTestDb, type TestDb } from '../support/test-db';
import { TEST_REDIS_URL } from '../support/services';
import { AnswerLosingDb } from '../support/answer-losing-db';
import { errorCode } from '../../client/errors';

const REDIS = TEST_REDIS_URL;
const run = randomBytes(4).toString('hex');

/** A raw SUB socket on one PUB endpoint; collects the seqs of one room topic in arrival order. */
class RoomListener {
  readonly seqs: number[] = [];
  private readonly sub = new zmq.Subscriber({ linger: 0 });
  constructor(endpoint: string, topic: string) {
    this.sub.connect(endpoint);
    this.sub.subscribe(topic);
    void this.read(topic);
  }
  private async read(topic: string): Promise<void> {
    try {
      for await (const [, ...frames] of this.sub) {
        for (const e of decodeBatch(frames, 1 << 20)) {
          if (e.kind !== 'room' || e.topic !== topic) continue;
          const ev = decodeEvent(e.payload);
          assert.equal(ev.method, 'chatMessage');
          assert.equal(
            ev.method === 'chatMessage' ? num(ev.message.seq) : -1,
            e.seq,
            'the envelope seq is the message seq',
          );
          this.seqs.push(e.seq);
        }
      }
    } catch {
      // closed
    }
  }
  close(): void {
    this.sub.close();
  }
}

for (const kind of DB_KINDS)
  describe(`chat on ${kind}`, () => {
    const prefix = `t-chat-${run}-${kind}:`;
    const ROOM = `lobby-${run}`;
    let testDb: TestDb | undefined;
    let db: Db;
    /** what the chat instances use: the same database, with an answer lost on demand */
    let served: AnswerLosingDb;
    let kv: RedisKv;
    let cluster: TestCluster;
    let broker: TestBroker;

    before(async () => {
      testDb = await openTestDb(kind, 'chat');
      db = testDb.db;
      kv = new RedisKv({ shards: [REDIS], keyPrefix: prefix, logger: silentLogger() });
      await kv.start();
      served = new AnswerLosingDb(db);
      cluster = await startTestCluster({
        modules: [{ module: untyped(chatModule), count: 2 }],
        deps: { db: served, kv },
      });
      broker = await TestBroker.start(cluster.cfg.yellow);
      await cluster.until('both chat instances know each other', () =>
        cluster.services.every((s) => s.env.directory.instances({ role: 'chat' }).length === 2),
      );
      await broker.ready();
    });

    after(async () => {
      await broker?.stop();
      await cluster?.stop();
      await kv?.close();
      const raw = new Redis(REDIS);
      const keys = await raw.keys(`${prefix}*`);
      if (keys.length > 0) await raw.del(...keys);
      raw.disconnect();
      await testDb?.drop();
    });

    const owner = (roomId: string): string => cluster.services[0]!.env.ownerOf(roomId)!;
    const instances = (): string[] => cluster.services.map((s) => s.env.instanceId);

    test('join through a non-owner: snapshot from the owner, subscribe directive naming the owner', async () => {
      const o = owner(ROOM);
      const other = instances().find((id) => id !== o)!;
      const ann = broker.session('ann');
      const snap = await ann.at(other).chat.join(ROOM);
      assert.equal(snap.roomId, ROOM);
      assert.equal(num(snap.lastSeq), 0);
      assert.deepEqual(snap.recent, []);
      assert.deepEqual(ann.directives, [{ type: 'subscribe', topic: topicOf(ROOM), instanceId: o }]);
      await ann.at(other).chat.leave(ROOM);
      assert.deepEqual(ann.directives.at(-1), { type: 'unsubscribe', topic: topicOf(ROOM) });
      await assert.rejects(ann.clients.chat.join('bad room'), gameError(ErrorCode.BAD_REQUEST));
      await assert.rejects(ann.clients.chat.say(ROOM, ''), gameError(ErrorCode.BAD_REQUEST));
      await assert.rejects(ann.clients.chat.say(ROOM, 'x'.repeat(501)), gameError(ErrorCode.BAD_REQUEST));
    });

    test('messages from users on both instances get one gapless order, published in order', async () => {
      const o = owner(ROOM);
      const pub = cluster.directory.instances({ role: 'chat' }).find((r) => r.instanceId === o)?.endpoints.pub;
      assert.ok(pub, 'the owner registered its PUB endpoint');
      const listener = new RoomListener(pub, topicOf(ROOM));
      try {
        // The subscription reaches the PUB asynchronously (ZeroMQ slow joiner): send probes until one arrives.
        const probe = broker.session('probe');
        const deadline = Date.now() + 5000;
        while (listener.seqs.length === 0) {
          assert.ok(Date.now() < deadline, 'the SUB socket never received a probe');
          await probe.clients.chat.say(ROOM, 'probe');
          await cluster.until('a probe to arrive', () => listener.seqs.length > 0, 100).catch(() => undefined);
        }
        const base = listener.seqs.at(-1)!;
        const users = ['ann', 'bob', 'cat'].map((u) => broker.session(u));
        const ids = instances();
        const N = 60;
        const replies = await Promise.all(
          Array.from({ length: N }, (_, i) => users[i % 3]!.at(ids[i % 2]!).chat.say(ROOM, `m${i}`)),
        );
        const seqs = replies.map((r) => num(r.seq)).sort((a, b) => a - b);
        assert.equal(new Set(seqs).size, N, 'no seq given twice');
        assert.equal(seqs[N - 1]! - seqs[0]! + 1, N, 'no gaps');
        assert.ok(seqs[0]! > base, 'numbering continues after the probes');
        const total = seqs[N - 1]!;
        await cluster.until('every message to reach the SUB socket', () => listener.seqs.at(-1) === total);
        const first = listener.seqs[0]!;
        assert.deepEqual(
          listener.seqs,
          Array.from({ length: total - first + 1 }, (_, i) => first + i),
          'published once each, in order',
        );

        const hist = await broker.session('dan').clients.chat.history(ROOM, i64(0), 200);
        assert.deepEqual(
          hist.map((m) => num(m.seq)),
          Array.from({ length: total }, (_, i) => i + 1),
        );
        const texts = new Map(replies.map((r) => [num(r.seq), r.text]));
        for (const m of hist) if (texts.has(num(m.seq))) assert.equal(m.text, texts.get(num(m.seq)));
        // without the Kv list, history comes from Postgres with the same answer
        await kv.del(`chat:{${ROOM}}:recent`);
        const fromSql = await broker.session('dan').clients.chat.history(ROOM, i64(total - 10), 5);
        assert.deepEqual(
          fromSql.map((m) => num(m.seq)),
          [total - 9, total - 8, total - 7, total - 6, total - 5],
        );
        const snap = await broker.session('eve').clients.chat.join(ROOM);
        assert.equal(num(snap.lastSeq), total);
        assert.deepEqual(
          snap.recent?.map((m) => num(m.seq)),
          Array.from({ length: 50 }, (_, i) => total - 49 + i),
        );
      } finally {
        listener.close();
      }
    });

    test('a say sent again with its request id, to the owner or through another instance, is stored once', async () => {
      // Chat:say is not in the reply cache (it is keyed by its row): what is shown is the key in Postgres,
      // which also holds when a cache's shared store would not have answered.
      const room = `once-${run}`;
      const o = owner(room);
      const other = instances().find((id) => id !== o)!;
      const fay = broker.session('fay');
      fay.requestId = `${randomBytes(6).toString('hex')}00000001`;
      const first = await fay.at(o).chat.say(room, 'once');
      const again = await Promise.all([
        fay.at(o).chat.say(room, 'once'),
        fay.at(o).chat.say(room, 'once'),
        fay.at(other).chat.say(room, 'once'),
      ]);
      for (const m of again) assert.deepEqual([num(m.seq), num(m.sentAtMs)], [num(first.seq), num(first.sentAtMs)]);
      fay.requestId = `${fay.requestId.slice(0, 12)}00000002`;
      const next = await fay.at(other).chat.say(room, 'once');
      assert.equal(num(next.seq), num(first.seq) + 1, 'a new request id is a new message, numbered without a gap');
      assert.equal(num((await fay.at(o).chat.say(room, 'once')).seq), num(next.seq), 'forwarded with its id');
      // the same id in another session is another say
      const gus = broker.session('gus');
      gus.requestId = fay.requestId;
      assert.equal(num((await gus.at(o).chat.say(room, 'once')).seq), num(first.seq) + 2);
      const rows = await db.query<{ seq: string }>('SELECT seq FROM chat_messages WHERE room_id = $1 ORDER BY seq', [
        room,
      ]);
      assert.deepEqual(
        rows.rows.map((r) => Number(r.seq)),
        [1, 2, 3],
        'three rows: the retries stored nothing',
      );

      // The insert lands and its answer is lost: the sender is told the outcome is unknown
      // (TIMEOUT, never UNAVAILABLE), and its retry gets the stored message.
      fay.requestId = `${fay.requestId.slice(0, 12)}00000003`;
      served.loseNextAnswer(/INSERT INTO chat_messages/);
      await assert.rejects(fay.at(o).chat.say(room, 'landed'), (e: unknown) => errorCode(e) === 'TIMEOUT');
      assert.equal(served.lost, 1);
      const retried = await fay.at(o).chat.say(room, 'landed');
      assert.equal(num(retried.seq), 4);
      const landed = await db.query<{ n: string }>(
        "SELECT count(*) AS n FROM chat_messages WHERE room_id = $1 AND text = 'landed'",
        [room],
      );
      assert.equal(Number(landed.rows[0]?.n), 1, 'stored once');
      assert.equal(
        num((await fay.at(o).chat.say(room, 'next')).seq),
        num(retried.seq),
        'the same id: the same message',
      );
    });

    test('a new owner after the old one stops continues from max(seq) + 1', async () => {
      const o = owner(ROOM);
      const before = num((await broker.session('ann').clients.chat.history(ROOM, i64(0), 200)).at(-1)?.seq);
      const idx = cluster.services.findIndex((s) => s.env.instanceId === o);
      const [old] = cluster.services.splice(idx, 1);
      await old!.stop();
      const survivor = cluster.services[0]!;
      await cluster.until('the survivor owns the room', () => survivor.env.ownerOf(ROOM) === survivor.env.instanceId);
      await cluster.until(
        'the broker sees one chat instance',
        () => broker.directory.instances({ role: 'chat' }).length === 1,
      );
      const m = await broker.session('bob').at(survivor.env.instanceId).chat.say(ROOM, 'after failover');
      assert.equal(num(m.seq), before + 1);
      const m2 = await broker.session('cat').clients.chat.say(ROOM, 'and on');
      assert.equal(num(m2.seq), before + 2);
    });
  });
