// Settlement, and the duel itself, survive the death of the duel instance. Duel instances are real processes
// (test/support/duel-proc.ts), SIGKILLed by pid; Yellow, Player and Leaderboard run in this
// process on real Postgres (a throwaway schema shared with the children), so the test can take
// the player and leaderboard down and bring them back. Timers are shortened; every wait polls
// with a deadline.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { loadConfig, type Config } from '../../shared/config';
import { openDb } from '../../shared/data/db';
import { MemoryKv } from '../../shared/data/memory-kv';
import { migrate } from '../../shared/data/migrate';
import { PgDb } from '../../shared/data/pg';
import type { Db } from '../../shared/data/sql';
import { silentLogger } from '../../shared/log';
import { DuelAction, DuelPhase, type Player } from '../../shared/protocol';
import { YellowServer } from '../../yellow/server';
import { startService, type RunningService } from '../../roles/service';
import type { AnyServiceModule, ServiceModule } from '../../rpc/api';
import { leaderboardModule } from '../../services/leaderboard';
import { createPlayerModule } from '../../services/player/module';
import type { DuelOptions } from '../../services/duel/service';
import { readSettlement } from '../../services/duel/settlements';
import { cleanEnv } from '../support/cli-proc';
import { killAllProcesses, TestProcess } from '../support/process';
import { TEST_PG_URL } from '../support/services';
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
import { num, untyped } from '../support/svc-lb-util';
import { until } from '../support/wait';

const HEARTBEAT_MS = 100;
/** A matched duel with no result whose instance is gone is refunded after this (test value). */
const ORPHAN_AFTER_MS = 1500;
const STAKE = 5000;

/** The real player service, except that settleEscrow never answers (a payout call in flight). */
function stallingPlayer(onCall: () => void): AnyServiceModule {
  const real = createPlayerModule();
  const mod: ServiceModule<Player.IHandler> = {
    ...real,
    build: async (env, deps) => {
      const def = await real.build(env, deps);
      const settleEscrow = (): Promise<never> => {
        onCall();
        return new Promise<never>(() => undefined);
      };
      return { ...def, handlers: { ...def.handlers, settleEscrow } };
    },
  };
  return untyped(mod);
}

describe('duel settlement across a SIGKILLed duel instance (processes, Postgres)', () => {
  const schema = `t_duelcrash_${process.pid}_${randomBytes(3).toString('hex')}`;
  const logger = silentLogger();
  const kv = new MemoryKv();
  let db: Db;
  let yellow: YellowServer;
  let cfg: Config;
  let broker: TestBroker;
  let admin: BrokerSession;
  const running = new Map<string, RunningService>();
  /** duel processes by instance id */
  const duels = new Map<string, TestProcess>();

  async function startRole(mod: AnyServiceModule): Promise<RunningService> {
    const svc = await startService(mod.role, (env) => mod.build(env, { db, kv }), { cfg, logger });
    running.set(mod.role, svc);
    await until(`the broker sees ${mod.role}`, () =>
      broker.directory.instances({ role: mod.role }).some((r) => r.instanceId === svc.env.instanceId),
    );
    return svc;
  }

  async function stopRole(role: string): Promise<void> {
    await running.get(role)?.stop();
    running.delete(role);
    await until(`${role} gone from Yellow`, () => broker.directory.instances({ role }).length === 0);
  }

  /** A duel process; resolves once it is registered and the broker holds a link to it. */
  async function startDuel(
    opts: Partial<DuelOptions> = {},
    extraEnv: Record<string, string> = {},
  ): Promise<{ proc: TestProcess; instanceId: string }> {
    const env = cleanEnv({
      NOON_YELLOW: cfg.yellow.join(','),
      NOON_HEARTBEAT_MS: String(HEARTBEAT_MS),
      NOON_PG_URL: TEST_PG_URL,
      NOON_TEST_PG_SCHEMA: schema,
      NOON_LOG_LEVEL: 'info',
      NOON_TEST_DUEL_OPTIONS: JSON.stringify({
        ...FAST_SETTLE,
        turnMs: 60_000,
        orphanAfterMs: ORPHAN_AFTER_MS,
        ...opts,
      }),
      ...extraEnv,
    });
    const proc = new TestProcess(['--import', 'tsx', 'test/support/duel-proc.ts'], env, 'duel-proc');
    const ready = await proc.ready(60_000, 'duel');
    const instanceId = String(ready.instanceId);
    duels.set(instanceId, proc);
    await until('the broker sees the duel instance', () =>
      broker.directory.instances({ role: 'duel' }).some((r) => r.instanceId === instanceId),
    );
    await broker.ready();
    await until(
      'the duel instance answers',
      async () => (await broker.session('probe').at(instanceId).duel.ping()).instance === instanceId,
    );
    return { proc, instanceId };
  }

  before(async () => {
    db = await openDb({ pgUrl: TEST_PG_URL, schema, logger });
    yellow = new YellowServer({ host: '127.0.0.1', port: 0, heartbeatMs: HEARTBEAT_MS, logger });
    const { router } = await yellow.start();
    cfg = loadConfig({ yellow: [router], heartbeatMs: HEARTBEAT_MS, logLevel: 'silent' }, {});
    for (const mod of [createPlayerModule(), leaderboardModule] as AnyServiceModule[])
      await migrate(db, mod.role, mod.migrations);
    broker = await TestBroker.start([router], HEARTBEAT_MS);
    await startRole(untyped(createPlayerModule()));
    await startRole(untyped(leaderboardModule));
    admin = broker.session('admin');
  });

  after(async () => {
    for (const p of duels.values()) await p.stop('SIGTERM', 5000);
    killAllProcesses();
    await broker?.stop();
    for (const svc of running.values()) await svc.stop();
    await yellow?.stop();
    await kv.close();
    if (db instanceof PgDb) await db.dropSchema();
    await db?.close();
  });

  test('SIGKILLed right after the result is written, with the payout failing (player and leaderboard down): another instance pays exactly once', async () => {
    const d1 = await startDuel();
    const ann = await newPlayer(admin, broker, 'ann', 10_000);
    const bob = await newPlayer(admin, broker, 'bob', 10_000);
    const before = await softOf(db, [ann.userId, bob.userId]);
    const duelId = await match(ann, bob, STAKE);

    await stopRole('player');
    await stopRole('leaderboard');
    const end = await play(bob, ann, duelId);
    assert.deepEqual(
      [end.phase, end.winner],
      [DuelPhase.FINISHED, bob.userId],
      'the reply came once the result was durable',
    );
    const pending = await until(
      'the outbox row pending, its payout failed twice',
      async () => {
        const s = await readSettlement(db, duelId);
        return s && s.state === 'pending' && s.attempts >= 2 && !s.escrowDone ? s : undefined;
      },
      15_000,
    );
    assert.match(pending.lastError, /escrow:/);
    const row = await db.query('SELECT winner FROM duels WHERE id = $1', [duelId]);
    assert.deepEqual(row.rows, [{ winner: bob.userId }], 'the result row was written with the outbox row');
    assert.equal(
      (await duelLedger(db, duelId)).filter((l) => l.idem_key.endsWith(':payout')).length,
      0,
      'nothing paid yet',
    );

    const exit = await d1.proc.stop('SIGKILL');
    assert.equal(exit.signal, 'SIGKILL');
    await until(
      'the killed instance gone from Yellow',
      () => !broker.directory.instances({ role: 'duel' }).some((r) => r.instanceId === d1.instanceId),
    );
    await startRole(untyped(createPlayerModule()));
    await startRole(untyped(leaderboardModule));
    const d2 = await startDuel();
    assert.notEqual(d2.instanceId, d1.instanceId);

    const s = await settled(db, duelId, 30_000);
    assert.deepEqual([s.escrow, s.escrowDone, s.reportDone], ['payout', true, true]);
    assert.ok(s.attempts > pending.attempts, `worked again after the kill (${s.attempts} attempts in all)`);
    const after = await softOf(db, [ann.userId, bob.userId]);
    assert.equal(after.get(bob.userId), (before.get(bob.userId) ?? 0) + STAKE, 'winner = before + S');
    assert.equal(after.get(ann.userId), (before.get(ann.userId) ?? 0) - STAKE, 'loser = before − S');
    const payouts = (await duelLedger(db, duelId)).filter((l) => l.idem_key.endsWith(':payout'));
    assert.deepEqual(
      payouts.map((l) => [l.user_id, l.delta]),
      [[bob.userId, String(2 * STAKE)]],
      'paid exactly once',
    );
    assert.deepEqual(
      (await escrowRows(db, duelId)).map((e) => e.state),
      ['paid', 'paid'],
    );
    const reports = await db.query('SELECT 1 FROM score_reports WHERE idempotency_key = $1', [`duel:${duelId}`]);
    assert.equal(reports.rows.length, 1, 'ranked exactly once');
    assert.equal(num((await bob.clients.leaderboard.myRank('duels')).score), 1);
  });

  test('SIGKILLed mid-duel: the next instance takes the duel over from Postgres and its turn timer, armed from the stored deadline, ends it; paid exactly once', async () => {
    // Only short-turn instances from here: the duel's holder is the one instance left.
    for (const [id, p] of duels) if (p.alive) await p.stop('SIGTERM', 5000).then(() => duels.delete(id));
    await until('no duel instance listed', () => broker.directory.instances({ role: 'duel' }).length === 0);
    const TURN_MS = 2000;
    const first = await startDuel({ turnMs: TURN_MS });
    const cat = await newPlayer(admin, broker, 'cat', 10_000);
    const dan = await newPlayer(admin, broker, 'dan', 10_000);
    const before = await softOf(db, [cat.userId, dan.userId]);
    const duelId = await match(cat, dan, STAKE);
    assert.equal(cat.bindings.get('duel'), first.instanceId, 'the duel is held by the only instance');
    await act(cat, duelId, DuelAction.DRAW);
    const stored = await db.query<{ drawn: string[]; version: number; holder: string }>(
      'SELECT drawn, version, holder FROM duel_games WHERE id = $1',
      [duelId],
    );
    assert.deepEqual(stored.rows[0], { drawn: [cat.userId], version: 2, holder: first.instanceId });

    assert.equal((await first.proc.stop('SIGKILL')).signal, 'SIGKILL');
    const next = await startDuel({ turnMs: TURN_MS });
    const s = await settled(db, duelId, 30_000);
    assert.deepEqual([s.escrow, s.reason, s.winner], ['payout', 'timeout', cat.userId], 'dan did not draw in time');
    const row = await db.query<{ holder: string; finished: boolean }>(
      'SELECT holder, finished FROM duel_games WHERE id = $1',
      [duelId],
    );
    assert.deepEqual(row.rows[0], { holder: next.instanceId, finished: true }, 'ended by the instance that took it');
    const final = dan.pushes.find(
      (p) => p.method === 'duelUpdated' && p.state.duelId === duelId && p.state.phase === DuelPhase.FINISHED,
    );
    assert.ok(final, 'dan was told the end by the new holder');
    const after = await softOf(db, [cat.userId, dan.userId]);
    assert.equal(after.get(cat.userId), (before.get(cat.userId) ?? 0) + STAKE, 'winner = before + S');
    assert.equal(after.get(dan.userId), (before.get(dan.userId) ?? 0) - STAKE, 'loser = before − S');
    const payouts = (await duelLedger(db, duelId)).filter((l) => l.idem_key.endsWith(':payout'));
    assert.deepEqual(
      payouts.map((l) => [l.user_id, l.delta]),
      [[cat.userId, String(2 * STAKE)]],
      'paid exactly once',
    );
    assert.ok((await checkDuelsBalance(db)) >= 2);
    await next.proc.stop('SIGTERM');
  });

  test('SIGKILLed while its payout call is in flight (the row claimed for 2 minutes): another instance takes over at once, pays once', async () => {
    let stalls = 0;
    await stopRole('player');
    await startRole(stallingPlayer(() => stalls++));
    // a long lease and call deadline: only the claimer's death can free the row early
    const d3 = await startDuel({ settleLeaseMs: 120_000 }, { NOON_REQUEST_TIMEOUT_MS: '120000' });
    const eve = await newPlayer(admin, broker, 'eve', 10_000);
    const fay = await newPlayer(admin, broker, 'fay', 10_000);
    const before = await softOf(db, [eve.userId, fay.userId]);
    const duelId = await match(eve, fay, STAKE);
    await play(eve, fay, duelId);
    await until('the payout call in flight, the row claimed', async () => {
      const r = await db.query<{ claimed_by: string | null }>(
        'SELECT claimed_by FROM duel_settlements WHERE duel_id = $1',
        [duelId],
      );
      return stalls > 0 && r.rows[0]?.claimed_by === d3.instanceId;
    });

    assert.equal((await d3.proc.stop('SIGKILL')).signal, 'SIGKILL');
    await stopRole('player');
    await startRole(untyped(createPlayerModule()));
    const started = Date.now();
    const d4 = await startDuel();
    const s = await settled(db, duelId, 30_000);
    assert.ok(Date.now() - started < 60_000, 'taken over long before the lease ran out');
    assert.deepEqual([s.escrowDone, s.reportDone], [true, true]);
    const after = await softOf(db, [eve.userId, fay.userId]);
    assert.equal(after.get(eve.userId), (before.get(eve.userId) ?? 0) + STAKE, 'winner = before + S');
    assert.equal(after.get(fay.userId), (before.get(fay.userId) ?? 0) - STAKE, 'loser = before − S');
    const payouts = (await duelLedger(db, duelId)).filter((l) => l.idem_key.endsWith(':payout'));
    assert.equal(payouts.length, 1, 'paid exactly once');
    await d4.proc.stop('SIGTERM');
  });
});
