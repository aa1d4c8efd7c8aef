// Duel stakes, exactly: escrow at the match (both or neither), payout of the escrow to the winner,
// refunds when nobody wins, the stake's bounds, the player service's escrow methods on their own,
// and the SQL check that duels put into wallets exactly what they took out. Real Player and
// Leaderboard, two duel instances; on PGlite and on real Postgres.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import Int64 from 'node-int64';
import type { Db } from '../../shared/data/sql';
import { MemoryKv } from '../../shared/data/memory-kv';
import {
  Currency,
  DuelAction,
  DuelPhase,
  ErrorCode,
  EscrowRequest,
  MatchStatus,
  SpendRequest,
} from '../../shared/protocol';
import { duelModuleWith, MATCHMAKING_KEY } from '../../services/duel';
import { MAX_STAKE } from '../../services/duel/service';
import { leaderboardModule } from '../../services/leaderboard';
import { createPlayerModule } from '../../services/player/module';
import { startTestCluster, type TestCluster, type TestUser } from '../support/cluster';
import { TestBroker, type BrokerSession } from '../support/svc-duel-broker';
import {
  act,
  checkDuelsBalance,
  duelLedger,
  escrowRows,
  FAST_SETTLE,
  match,
  newPlayer,
  play,
  settled,
  softOf,
} from '../support/svc-duel-world';
import { gameError, i64, num, untyped } from '../support/svc-lb-util';
import { DB_KINDS, openTestDb, type TestDb } from '../support/test-db';
import { until } from '../support/wait';

const TURN_MS = 800;

for (const kind of DB_KINDS)
  describe(`duel money on ${kind}`, () => {
    let testDb: TestDb | undefined;
    let db: Db;
    let kv: MemoryKv;
    let cluster: TestCluster;
    let broker: TestBroker;
    let admin: TestUser;

    before(async () => {
      testDb = await openTestDb(kind, 'duelmoney');
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
      await until(
        'the broker sees both duel instances',
        () => broker.directory.instances({ role: 'duel' }).length === 2,
      );
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
      await cluster?.stop();
      await kv?.close();
      await testDb?.drop();
    });

    const player = (name: string, extra = 0): Promise<BrokerSession> => newPlayer(admin, broker, name, extra);
    const totalSoft = async (): Promise<number> =>
      Number((await db.query<{ s: string }>('SELECT COALESCE(sum(soft), 0)::text AS s FROM players')).rows[0]?.s);

    test(`exact money at the largest stake (${MAX_STAKE}, above the old 500,000,000 limit): loser − S, winner + S`, async () => {
      const S = MAX_STAKE;
      const ann = await player('ann', 1_000_000_000);
      const bob = await player('bob', 1_000_000_000);
      const ids = [ann.userId, bob.userId];
      const before = await softOf(db, ids);
      const sumBefore = await totalSoft();
      const duelId = await match(ann, bob, S);
      // the stakes are held from the match on
      const held = await softOf(db, ids);
      for (const id of ids) assert.equal(held.get(id), (before.get(id) ?? 0) - S, `${id} paid the stake into escrow`);
      assert.deepEqual(
        (await escrowRows(db, duelId)).map((e) => [e.user_id, e.amount, e.state]),
        [...ids].sort().map((id) => [id, String(S), 'held']),
      );
      const end = await play(bob, ann, duelId);
      assert.deepEqual([end.phase, end.winner], [DuelPhase.FINISHED, bob.userId]);
      const s = await settled(db, duelId);
      assert.deepEqual([s.escrow, s.escrowDone, s.reportDone], ['payout', true, true]);

      const after = await softOf(db, ids);
      assert.equal(after.get(ann.userId), (before.get(ann.userId) ?? 0) - S, 'loser = before − S');
      assert.equal(after.get(bob.userId), (before.get(bob.userId) ?? 0) + S, 'winner = before + S');
      assert.equal(await totalSoft(), sumBefore, 'the sum over all wallets is unchanged');
      const ledger = (await duelLedger(db, duelId)).map((l) => [l.user_id, l.delta, l.idem_key]);
      assert.deepEqual(ledger, [
        [ann.userId, String(-S), `duel:${duelId}:stake`],
        [bob.userId, String(-S), `duel:${duelId}:stake`],
        [bob.userId, String(2 * S), `duel:${duelId}:payout`],
      ]);
      assert.deepEqual(
        (await escrowRows(db, duelId)).map((e) => e.state),
        ['paid', 'paid'],
      );
      const header = await db.query<{ state: string; winner: string }>(
        'SELECT state, winner FROM player_escrows WHERE duel_id = $1',
        [duelId],
      );
      assert.deepEqual(header.rows[0], { state: 'paid', winner: bob.userId });
      assert.equal(num((await bob.clients.leaderboard.myRank('duels')).score), 1);
      // the wallet the client reads (cached) is the new one too
      assert.equal(num((await bob.clients.player.getWallet()).soft), after.get(bob.userId));
    });

    test('stakes beyond MAX_STAKE or beyond an exact integer are refused', async () => {
      const cy = await player('cy', 1_000_000_000);
      const duel = cy.routed('duel').duel;
      await assert.rejects(duel.findMatch(i64(MAX_STAKE + 1)), gameError(ErrorCode.BAD_REQUEST, /stake must be/));
      await assert.rejects(duel.findMatch(new Int64('7fffffffffffffff')), gameError(ErrorCode.BAD_REQUEST));
      await assert.rejects(duel.findMatch(i64(-1)), gameError(ErrorCode.BAD_REQUEST));
      const rows = await db.query('SELECT 1 FROM duel_settlements WHERE $1 = ANY(players)', [cy.userId]);
      assert.equal(rows.rows.length, 0, 'no match was attempted');
    });

    test('a player who cannot pay the stake is refused before queueing, and nobody is debited', async () => {
      const eve = await player('eve');
      const before = await softOf(db, [eve.userId]);
      await assert.rejects(
        eve.routed('duel').duel.findMatch(i64(5000)),
        gameError(ErrorCode.INSUFFICIENT_FUNDS, /not enough soft/),
      );
      assert.deepEqual(await softOf(db, [eve.userId]), before);
      const rows = await db.query('SELECT 1 FROM player_escrow WHERE user_id = $1', [eve.userId]);
      assert.equal(rows.rows.length, 0);
    });

    test('a caller who cannot pay at the match gets INSUFFICIENT_FUNDS; nobody is debited; the waiting player is put back', async () => {
      const stake = 700;
      const fay = await player('fay');
      const gus = await player('gus');
      const hal = await player('hal');
      // gus's wallet as the cache holds it now (1,000), then he spends: his pre-check will read
      // the stale copy and pass, and only the escrow, under the row lock, sees what he has.
      await gus.clients.player.getWallet();
      const key = `cache:player:profile:${gus.userId}`;
      const stale = await kv.get(key);
      assert.ok(stale, 'the profile is cached');
      await gus.clients.player.spendCurrency(
        new SpendRequest({ idempotencyKey: 'broke', currency: Currency.SOFT, amount: 500, reason: 'shop' }),
      );
      await kv.set(key, stale, 60_000);
      const before = await softOf(db, [fay.userId, gus.userId]);
      assert.equal((await fay.routed('duel').duel.findMatch(i64(stake))).status, MatchStatus.QUEUED);
      await assert.rejects(
        gus.routed('duel').duel.findMatch(i64(stake)),
        gameError(ErrorCode.INSUFFICIENT_FUNDS, /not enough soft/),
      );
      assert.deepEqual(await softOf(db, [fay.userId, gus.userId]), before, 'neither was debited');
      const open = await db.query("SELECT duel_id FROM duel_settlements WHERE $1 = ANY(players) AND state <> 'done'", [
        fay.userId,
      ]);
      assert.deepEqual(open.rows, [], 'no settlement row is left for the refused match');
      // fay is back in the queue: the next caller pairs with her
      const t = await hal.routed('duel').duel.findMatch(i64(stake));
      assert.deepEqual([t.status, t.opponent], [MatchStatus.MATCHED, fay.userId]);
      const duelId = t.duelId ?? '';
      await play(fay, hal, duelId);
      await settled(db, duelId);
    });

    test('a waiting player who can no longer pay is dropped and told; the caller queues instead; nobody is debited', async () => {
      const stake = 600;
      const ike = await player('ike');
      const jo = await player('jo');
      const kim = await player('kim');
      assert.equal((await ike.routed('duel').duel.findMatch(i64(stake))).status, MatchStatus.QUEUED);
      await ike.clients.player.spendCurrency(
        new SpendRequest({ idempotencyKey: 'after-queueing', currency: Currency.SOFT, amount: 500, reason: 'shop' }),
      );
      const before = await softOf(db, [ike.userId, jo.userId]);
      assert.equal((await jo.routed('duel').duel.findMatch(i64(stake))).status, MatchStatus.QUEUED, 'jo waits');
      assert.deepEqual(await softOf(db, [ike.userId, jo.userId]), before, 'neither was debited');
      await until('ike is told he left the queue', () =>
        ike.pushes.some((p) => p.method === 'other' && p.name === 'Events:stateLost'),
      );
      const t = await kim.routed('duel').duel.findMatch(i64(stake));
      assert.deepEqual([t.status, t.opponent], [MatchStatus.MATCHED, jo.userId], 'jo, not ike, is the next opponent');
      await play(kim, jo, t.duelId ?? '');
      await settled(db, t.duelId ?? '');
    });

    test('duels that end with no winner (idle, standoff) refund each stake exactly', async () => {
      const stake = 250;
      const lee = await player('lee');
      const max = await player('max');
      const ned = await player('ned');
      const oli = await player('oli');
      const ids = [lee, max, ned, oli].map((s) => s.userId);
      const before = await softOf(db, ids);
      const idle = await match(lee, max, stake);
      const standoff = await match(ned, oli, stake);
      await act(ned, standoff, DuelAction.DRAW);
      await act(oli, standoff, DuelAction.DRAW);
      const [a, b] = await Promise.all([settled(db, idle, TURN_MS * 10), settled(db, standoff, TURN_MS * 10)]);
      assert.deepEqual([a.escrow, a.reason, a.winner], ['refund', 'idle', '']);
      assert.deepEqual([b.escrow, b.reason, b.winner], ['refund', 'standoff', '']);
      assert.deepEqual(await softOf(db, ids), before, 'every player has exactly what they had');
      for (const [duelId, pair] of [
        [idle, [lee, max]],
        [standoff, [ned, oli]],
      ] as const) {
        const ledger = await duelLedger(db, duelId);
        assert.equal(ledger.length, 4, 'two stakes, two refunds');
        for (const s of pair) {
          const mine = ledger.filter((l) => l.user_id === s.userId).map((l) => [l.delta, l.idem_key.split(':')[2]]);
          assert.deepEqual(mine, [
            [String(-stake), 'stake'],
            [String(stake), 'refund'],
          ]);
        }
        assert.deepEqual(
          (await escrowRows(db, duelId)).map((e) => e.state),
          ['refunded', 'refunded'],
        );
        const reports = await db.query('SELECT 1 FROM score_reports WHERE idempotency_key = $1', [`duel:${duelId}`]);
        assert.equal(reports.rows.length, 0, 'a duel with no winner is not ranked');
      }
    });

    test("the player service's escrow calls are idempotent by duel id and take from both or neither", async () => {
      const pat = await player('pat');
      const quinn = await player('quinn');
      const poor = await player('poor');
      const p = admin.clients.player;
      const ids = [pat.userId, quinn.userId];
      const before = await softOf(db, [...ids, poor.userId]);

      const refused = await p.escrowStakes(
        new EscrowRequest({ duelId: `t-${randomUUID()}`, userIds: [pat.userId, poor.userId], amount: 1001 }),
      );
      assert.deepEqual([refused.state, refused.shortOfFunds], ['refused', [pat.userId, poor.userId]]);
      assert.deepEqual(await softOf(db, [...ids, poor.userId]), before, 'refused: nobody debited');

      const duelId = `t-${randomUUID()}`;
      const req = new EscrowRequest({ duelId, userIds: ids, amount: 300 });
      const all = await Promise.all(Array.from({ length: 5 }, () => p.escrowStakes(req)));
      assert.deepEqual(new Set(all.map((r) => r.state)), new Set(['held']));
      const held = await softOf(db, ids);
      for (const id of ids) assert.equal(held.get(id), (before.get(id) ?? 0) - 300, 'debited once');
      await assert.rejects(
        p.escrowStakes(new EscrowRequest({ duelId, userIds: ids, amount: 301 })),
        gameError(ErrorCode.CONFLICT),
      );
      await assert.rejects(p.settleEscrow(duelId, poor.userId), gameError(ErrorCode.BAD_REQUEST));
      const paid = await Promise.all([p.settleEscrow(duelId, quinn.userId), p.settleEscrow(duelId, quinn.userId)]);
      assert.deepEqual(
        paid.map((r) => [r.state, r.winner]),
        [
          ['paid', quinn.userId],
          ['paid', quinn.userId],
        ],
      );
      await assert.rejects(p.settleEscrow(duelId, pat.userId), gameError(ErrorCode.CONFLICT));
      await assert.rejects(p.refundEscrow(duelId), gameError(ErrorCode.CONFLICT));
      const afterPay = await softOf(db, ids);
      assert.equal(afterPay.get(quinn.userId), (before.get(quinn.userId) ?? 0) + 300, 'paid once');
      assert.equal(afterPay.get(pat.userId), (before.get(pat.userId) ?? 0) - 300);

      // a refund before any escrow closes the duel: the escrow arriving late takes nothing
      const late = `t-${randomUUID()}`;
      assert.equal((await p.refundEscrow(late)).state, 'void');
      const landed = await p.escrowStakes(new EscrowRequest({ duelId: late, userIds: ids, amount: 100 }));
      assert.equal(landed.state, 'void');
      assert.deepEqual(await softOf(db, ids), afterPay, 'a void escrow debits nobody');

      // refund twice: each stake back once
      const twice = `t-${randomUUID()}`;
      await p.escrowStakes(new EscrowRequest({ duelId: twice, userIds: ids, amount: 50 }));
      const refunds = await Promise.all([p.refundEscrow(twice), p.refundEscrow(twice)]);
      assert.deepEqual(
        refunds.map((r) => r.state),
        ['refunded', 'refunded'],
      );
      assert.deepEqual(await softOf(db, ids), afterPay, 'refunded exactly');

      for (const bad of [
        new EscrowRequest({ duelId: `t-${randomUUID()}`, userIds: [pat.userId, pat.userId], amount: 1 }),
        new EscrowRequest({ duelId: `t-${randomUUID()}`, userIds: [pat.userId], amount: 1 }),
        new EscrowRequest({ duelId: `t-${randomUUID()}`, userIds: ids, amount: MAX_STAKE + 1 }),
        new EscrowRequest({ duelId: 'bad id!', userIds: ids, amount: 1 }),
      ])
        await assert.rejects(p.escrowStakes(bad), gameError(ErrorCode.BAD_REQUEST));
    });

    test('a duel for no stake moves no money and still ranks the winner', async () => {
      const rex = await player('rex');
      const sam = await player('sam');
      const before = await softOf(db, [rex.userId, sam.userId]);
      const duelId = await match(rex, sam, 0);
      await play(sam, rex, duelId);
      const s = await settled(db, duelId);
      assert.deepEqual([s.escrow, s.winner, s.reportDone], ['none', sam.userId, true]);
      assert.deepEqual(await softOf(db, [rex.userId, sam.userId]), before);
      assert.deepEqual(await duelLedger(db, duelId), []);
      assert.equal(num((await sam.clients.leaderboard.myRank('duels')).score), 1);
    });

    test('SQL: duels put into wallets exactly what they took out', async () => {
      const checked = await checkDuelsBalance(db);
      assert.ok(checked >= 5, `${checked} settled duels checked`);
    });
  });
