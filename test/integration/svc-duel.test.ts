// Duel service on a real in-process cluster: 2 duel instances, the real Player (stakes in escrow)
// and Leaderboard; every test runs on PGlite and on real Postgres (throwaway schema), each with
// its own cluster. Sessions are routed as a broker routes a stateful service (bound instance,
// else rendezvous of the session id) by a pretend broker. Money in detail: svc-duel-money.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Db } from '../../shared/data/sql';
import { MemoryKv } from '../../shared/data/memory-kv';
import { rendezvous } from '../../shared/hashing';
import { DuelAction, DuelActRequest, DuelPhase, ErrorCode, MatchStatus } from '../../shared/protocol';
import { duelModuleWith, MATCHMAKING_KEY } from '../../services/duel';
import { leaderboardModule } from '../../services/leaderboard';
import { createPlayerModule } from '../../services/player/module';
import { startTestCluster, type TestCluster, type TestUser } from '../support/cluster';
import { TestBroker, type BrokerSession } from '../support/svc-duel-broker';
import { duelLedger, FAST_SETTLE, settled, softOf } from '../support/svc-duel-world';
import { gameError, i64, num, untyped } from '../support/svc-lb-util';
import { DB_KINDS, openTestDb, type TestDb } from '../support/test-db';

const TURN_MS = 2500;

for (const kind of DB_KINDS)
  describe(`duel on ${kind}`, () => {
    let testDb: TestDb | undefined;
    let db: Db;
    let kv: MemoryKv;
    let cluster: TestCluster;
    let broker: TestBroker;
    let admin: TestUser;
    let duelIds: string[];
    let matchmaker: string;

    before(async () => {
      testDb = await openTestDb(kind, 'duel');
      db = testDb.db;
      kv = new MemoryKv();
      cluster = await startTestCluster({
        modules: [
          { module: untyped(createPlayerModule()) },
          { module: untyped(leaderboardModule) },
          { module: untyped(duelModuleWith({ turnMs: TURN_MS, ...FAST_SETTLE })), count: 2 },
        ],
        deps: { db, kv },
      });
      admin = cluster.anonymous();
      broker = await TestBroker.start(cluster.cfg.yellow);
      const duels = cluster.services.filter((s) => s.env.role === 'duel');
      duelIds = duels.map((s) => s.env.instanceId);
      await cluster.until(
        'the broker sees both duel instances',
        () => broker.directory.instances({ role: 'duel' }).length === 2,
      );
      await cluster.until('duel instances see the broker', () =>
        duels.every((s) => s.env.directory.instances({ role: 'broker' }).some((r) => r.instanceId === broker.id)),
      );
      await broker.ready();
      await cluster.until(
        'duel instances agree on the matchmaker',
        () => new Set(duels.map((s) => s.env.ownerOf(MATCHMAKING_KEY))).size === 1,
      );
      matchmaker = duels[0]!.env.ownerOf(MATCHMAKING_KEY)!;
      // A real broker holds a link to every instance; this one links on first call, so call each once.
      const probe = broker.session('probe');
      for (const id of duelIds) await probe.at(id).duel.ping();
    });

    after(async () => {
      await broker?.stop();
      await cluster?.stop();
      await kv?.close();
      await testDb?.drop();
    });

    /** A player with a profile (1,000 soft), its session as the broker holds it. */
    async function session(name: string, sid?: string): Promise<BrokerSession> {
      const userId = `${name}-${kind}`;
      await admin.clients.player.createProfile(userId, name);
      return broker.session(userId, sid);
    }

    /** A session whose rendezvous instance is NOT the matchmaker, so its findMatch is forwarded. */
    function forwardedSession(name: string): Promise<BrokerSession> {
      for (;;) {
        const sid = `s-${randomBytes(8).toString('hex')}`;
        if (rendezvous(sid, duelIds) !== matchmaker) return session(name, sid);
      }
    }

    async function match(a: BrokerSession, b: BrokerSession, stake: number): Promise<string> {
      const first = await a.routed('duel').duel.findMatch(i64(stake));
      assert.equal(first.status, MatchStatus.QUEUED);
      const second = await b.routed('duel').duel.findMatch(i64(stake));
      assert.equal(second.status, MatchStatus.MATCHED);
      assert.equal(second.opponent, a.userId);
      const duelId = second.duelId ?? '';
      await cluster.until(`${a.userId} gets matchFound`, () =>
        a.pushes.some((p) => p.method === 'matchFound' && p.ticket.duelId === duelId),
      );
      return duelId;
    }

    const act = (s: BrokerSession, duelId: string, action: DuelAction) =>
      s.routed('duel').duel.act(new DuelActRequest({ duelId, action }));

    test('two forwarded findMatch calls pair up on the matchmaker; both sessions are bound to it', async () => {
      const ann = await forwardedSession('ann');
      const bob = await forwardedSession('bob');
      const duelId = await match(ann, bob, 10);
      assert.equal(bob.bindings.get('duel'), matchmaker, 'the reply bound the caller to the matchmaker');
      assert.equal(ann.bindings.get('duel'), matchmaker, 'the push bound the waiting player to the matchmaker');
      const bindsTo = (s: BrokerSession) =>
        s.directives.filter((d) => d.type === 'bind').map((d) => (d.type === 'bind' ? d.instanceId : ''));
      assert.deepEqual([...new Set([...bindsTo(ann), ...bindsTo(bob)])], [matchmaker]);
      const found = ann.pushes.find((p) => p.method === 'matchFound');
      assert.equal(found?.method === 'matchFound' ? found.ticket.opponent : '', bob.userId);

      // the whole duel, every call routed by the binding
      assert.equal((await act(ann, duelId, DuelAction.DRAW)).phase, DuelPhase.ACTIVE);
      await act(bob, duelId, DuelAction.DRAW);
      const end = await act(bob, duelId, DuelAction.SHOOT);
      assert.deepEqual([end.phase, end.winner, end.reason], [DuelPhase.FINISHED, bob.userId, 'shot']);
      for (const s of [ann, bob]) {
        await cluster.until(`${s.userId} gets the final state`, () =>
          s.pushes.some(
            (p) => p.method === 'duelUpdated' && p.state.duelId === duelId && p.state.phase === DuelPhase.FINISHED,
          ),
        );
      }
      await assert.rejects(act(ann, duelId, DuelAction.SHOOT), gameError(ErrorCode.CONFLICT));

      const row = await db.query<{ players: string[]; winner: string; loser: string; reason: string; stake: string }>(
        'SELECT players, winner, loser, reason, stake::text AS stake FROM duels WHERE id = $1',
        [duelId],
      );
      assert.deepEqual(row.rows[0], {
        players: [ann.userId, bob.userId],
        winner: bob.userId,
        loser: ann.userId,
        reason: 'shot',
        stake: '10',
      });
      await settled(db, duelId);
      // both stakes of 10 went into escrow; the winner got the escrow, 20
      assert.deepEqual(
        Object.fromEntries(await softOf(db, [ann.userId, bob.userId])),
        Object.fromEntries([
          [ann.userId, 990],
          [bob.userId, 1010],
        ]),
      );
      assert.deepEqual(
        (await duelLedger(db, duelId)).map((l) => [l.user_id, l.delta, l.idem_key.split(':')[2]]),
        [
          [ann.userId, '-10', 'stake'],
          [bob.userId, '-10', 'stake'],
          [bob.userId, '20', 'payout'],
        ],
      );
      const rank = await bob.clients.leaderboard.myRank('duels');
      assert.equal(num(rank.score), 1);
      const hist = await bob.routed('duel').duel.history(10);
      assert.deepEqual(
        hist.map((h) => [h.duelId, h.winner, h.loser, h.reason]),
        [[duelId, bob.userId, ann.userId, 'shot']],
      );
      const other = duelIds.find((id) => id !== matchmaker)!;
      // Another instance finds the duel in Postgres and forwards to its holder, which binds the session to itself.
      const via = await ann.at(other).duel.getDuel(duelId);
      assert.deepEqual([via.phase, via.winner], [DuelPhase.FINISHED, bob.userId]);
      await assert.rejects(ann.at(other).duel.getDuel('no-such-duel'), gameError(ErrorCode.NOT_FOUND));
      await assert.rejects(broker.session('eve').at(matchmaker).duel.getDuel(duelId), gameError(ErrorCode.FORBIDDEN));
    });

    test('a player who does not draw in time forfeits; the timer settles the duel', async () => {
      const cat = await forwardedSession('cat');
      const dan = await session('dan');
      const duelId = await match(cat, dan, 5);
      await act(dan, duelId, DuelAction.DRAW);
      await cluster.until(
        'the timeout ends the duel',
        () =>
          cat.pushes.some(
            (p) => p.method === 'duelUpdated' && p.state.duelId === duelId && p.state.phase === DuelPhase.FINISHED,
          ),
        TURN_MS * 4,
      );
      const final = await dan.routed('duel').duel.getDuel(duelId);
      assert.deepEqual([final.winner, final.reason], [dan.userId, 'timeout']);
      const s = await settled(db, duelId);
      assert.deepEqual([s.escrow, s.winner, s.reason], ['payout', dan.userId, 'timeout']);
      const soft = await softOf(db, [cat.userId, dan.userId]);
      assert.deepEqual([soft.get(cat.userId), soft.get(dan.userId)], [995, 1005]);
      const row = await db.query<{ winner: string; reason: string }>('SELECT winner, reason FROM duels WHERE id = $1', [
        duelId,
      ]);
      assert.deepEqual(row.rows[0], { winner: dan.userId, reason: 'timeout' });
    });

    test('cancelMatch takes a waiting player out of the queue', async () => {
      const eli = await forwardedSession('eli');
      const fay = await session('fay');
      assert.equal((await eli.routed('duel').duel.findMatch(i64(77))).status, MatchStatus.QUEUED);
      await eli.routed('duel').duel.cancelMatch();
      assert.equal(
        (await fay.routed('duel').duel.findMatch(i64(77))).status,
        MatchStatus.QUEUED,
        'nobody left to pair with',
      );
      await fay.routed('duel').duel.cancelMatch();
      await assert.rejects(fay.routed('duel').duel.findMatch(i64(-1)), gameError(ErrorCode.BAD_REQUEST));
    });
  });
