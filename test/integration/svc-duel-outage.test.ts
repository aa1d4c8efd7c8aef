// Settlement outlasts a downstream outage: the leaderboard service is stopped for a real 30 s
// (NOON_TEST_OUTAGE_MS overrides the length) while 8 duels end. Payouts go through at once, the
// reports wait, the settler keeps retrying (well past the old code's five tries), and when the
// leaderboard is back every duel is ranked exactly once and paid exactly once. Real Postgres
// (a throwaway schema), two duel instances, the real Player; in process.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Db } from '../../shared/data/sql';
import { MemoryKv } from '../../shared/data/memory-kv';
import { migrate } from '../../shared/data/migrate';
import { silentLogger } from '../../shared/log';
import { startService, type RunningService } from '../../roles/service';
import { duelModuleWith, MATCHMAKING_KEY } from '../../services/duel';
import { readSettlement, type Settlement } from '../../services/duel/settlements';
import { leaderboardModule } from '../../services/leaderboard';
import { createPlayerModule } from '../../services/player/module';
import { startTestCluster, type TestCluster } from '../support/cluster';
import { TestBroker, type BrokerSession } from '../support/svc-duel-broker';
import { checkDuelsBalance, duelLedger, FAST_SETTLE, match, newPlayer, play, softOf } from '../support/svc-duel-world';
import { num, untyped } from '../support/svc-lb-util';
import { openTestDb, type TestDb } from '../support/test-db';
import { until } from '../support/wait';

const OUTAGE_MS = Number(process.env.NOON_TEST_OUTAGE_MS ?? 30_000);
const DUELS = 8;
const STAKE = 100;

describe('duel settlement across a leaderboard outage (Postgres)', () => {
  let testDb: TestDb | undefined;
  let db: Db;
  const kv = new MemoryKv();
  let cluster: TestCluster;
  let broker: TestBroker;
  let leaderboard: RunningService | undefined;

  const startLeaderboard = async (): Promise<void> => {
    leaderboard = await startService('leaderboard', (env) => leaderboardModule.build(env, { db, kv }), {
      cfg: cluster.cfg,
      logger: silentLogger(),
    });
  };

  before(async () => {
    testDb = await openTestDb('postgres', 'duelout');
    db = testDb.db;
    cluster = await startTestCluster({
      modules: [
        { module: untyped(createPlayerModule()) },
        { module: untyped(duelModuleWith({ turnMs: 60_000, ...FAST_SETTLE })), count: 2 },
      ],
      deps: { db, kv },
    });
    await migrate(db, leaderboardModule.role, leaderboardModule.migrations);
    await startLeaderboard();
    broker = await TestBroker.start(cluster.cfg.yellow);
    const duels = cluster.services.filter((s) => s.env.role === 'duel');
    await until('the broker sees both duel instances', () => broker.directory.instances({ role: 'duel' }).length === 2);
    await until('duel instances see the broker', () =>
      duels.every((s) => s.env.directory.instances({ role: 'broker' }).some((r) => r.instanceId === broker.id)),
    );
    await broker.ready();
    await until(
      'duel instances agree on the matchmaker',
      () => new Set(duels.map((s) => s.env.ownerOf(MATCHMAKING_KEY))).size === 1,
    );
    const probe = broker.session('probe');
    for (const s of duels) await probe.at(s.env.instanceId).duel.ping();
  });

  after(async () => {
    await broker?.stop();
    await leaderboard?.stop();
    await cluster?.stop();
    await kv.close();
    await testDb?.drop();
  });

  test(`settlement completes after a ${OUTAGE_MS / 1000} s leaderboard outage: ${DUELS} duels, no result lost, each paid and ranked once`, async () => {
    const admin = broker.session('admin');
    const pairs: Array<{ winner: BrokerSession; loser: BrokerSession; duelId: string }> = [];
    for (let i = 0; i < DUELS; i++) {
      const winner = await newPlayer(admin, broker, `w${i}`);
      const loser = await newPlayer(admin, broker, `l${i}`);
      pairs.push({ winner, loser, duelId: await match(loser, winner, STAKE) });
    }
    const ids = pairs.flatMap((p) => [p.winner.userId, p.loser.userId]);
    const settlement = async (duelId: string): Promise<Settlement> => {
      const s = await readSettlement(db, duelId);
      assert.ok(s, `a settlement row for ${duelId}`);
      return s;
    };

    await leaderboard?.stop();
    const downAt = Date.now();
    await until(
      'the leaderboard gone from Yellow',
      () => broker.directory.instances({ role: 'leaderboard' }).length === 0,
    );
    for (const p of pairs) await play(p.winner, p.loser, p.duelId);
    await until('every payout done while the leaderboard is down', async () => {
      for (const p of pairs) if (!(await settlement(p.duelId)).escrowDone) return false;
      return true;
    });
    const paid = await softOf(db, ids);
    for (const p of pairs) {
      assert.equal(paid.get(p.winner.userId), 1000 + STAKE, 'the winner is paid without waiting for the leaderboard');
      assert.equal(paid.get(p.loser.userId), 1000 - STAKE);
    }

    // The outage itself: a real gap of OUTAGE_MS, polled (the settler must keep failing and retrying).
    await until(
      `${OUTAGE_MS} ms of leaderboard outage`,
      () => Date.now() - downAt >= OUTAGE_MS,
      OUTAGE_MS + 10_000,
      250,
    );
    for (const p of pairs) {
      const s = await settlement(p.duelId);
      assert.equal(s.state, 'pending', 'still pending: nothing is dropped');
      assert.ok(s.attempts > 5, `retried ${s.attempts} times, past the old five`);
      assert.match(s.lastError, /leaderboard: UNAVAILABLE/);
    }

    await startLeaderboard();
    const backAt = Date.now();
    await until(
      'every settlement done once the leaderboard is back',
      async () => {
        for (const p of pairs) if ((await settlement(p.duelId)).state !== 'done') return false;
        return true;
      },
      20_000,
      50,
    );
    console.log(
      `outage ${Date.now() - downAt} ms; all ${DUELS} settled ${Date.now() - backAt} ms after the leaderboard came back`,
    );
    for (const p of pairs) {
      const reports = await db.query('SELECT 1 FROM score_reports WHERE idempotency_key = $1', [`duel:${p.duelId}`]);
      assert.equal(reports.rows.length, 1, 'ranked exactly once');
      assert.equal(num((await p.winner.clients.leaderboard.myRank('duels')).score), 1);
      const payouts = (await duelLedger(db, p.duelId)).filter((l) => l.idem_key.endsWith(':payout'));
      assert.equal(payouts.length, 1, 'paid exactly once');
    }
    assert.deepEqual(await softOf(db, ids), paid, 'no money moved after the payouts');
    assert.ok((await checkDuelsBalance(db)) >= DUELS);
  });
});
