// The built-in job: a finished duel's result and its `duel.finished` job commit in one
// transaction (services/duel/settlements.ts finishDuel), and a worker role (roles/worker.ts, with
// the built-in modules' job handlers) records it in duel_analytics afterwards. A result written
// twice (a lost COMMIT retried) is recorded once. Runs on embedded PGlite and on real Postgres.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../shared/config';
import { MemoryKv } from '../../shared/data/memory-kv';
import { migrate } from '../../shared/data/migrate';
import { silentLogger } from '../../shared/log';
import { YellowServer } from '../../yellow/server';
import { startWorkerRole } from '../../roles/worker';
import type { RunningRole } from '../../roles/host';
import { BUILTIN_MODULES } from '../../services/index';
import { duelModule } from '../../services/duel';
import { finishDuel } from '../../services/duel/settlements';
import { newGame, type Game } from '../../services/duel/rules';
import { DB_KINDS, openTestDb, type TestDb } from '../support/test-db';
import { until } from '../support/wait';

const HEARTBEAT_MS = 200;

for (const kind of DB_KINDS)
  describe(`duel.finished job on ${kind}`, () => {
    let t: TestDb;
    let yellow: YellowServer;
    let worker: RunningRole;

    before(async () => {
      t = await openTestDb(kind, 'duelan');
      await migrate(t.db, duelModule.role, duelModule.migrations);
      yellow = new YellowServer({ host: '127.0.0.1', port: 0, heartbeatMs: HEARTBEAT_MS, logger: silentLogger() });
      const { router } = await yellow.start();
      const cfg = loadConfig(
        { yellow: [router], heartbeatMs: HEARTBEAT_MS, logLevel: 'silent', metricsPort: 0, jobPollMs: 20 },
        {},
      );
      worker = await startWorkerRole(
        BUILTIN_MODULES,
        cfg,
        silentLogger(),
        { db: t.db, kv: new MemoryKv() },
        {
          processMetrics: false,
        },
      );
    });

    after(async () => {
      await worker?.stop();
      await yellow?.stop();
      await t?.drop();
    });

    test('a finished duel gets one analytics row, written by the worker after the result', async () => {
      const g: Game = {
        ...newGame(`d-${kind}`, ['alice', 'bob'], 0, Date.now(), 60_000),
        drawn: ['alice', 'bob'],
        finished: true,
        winner: 'alice',
        loser: 'bob',
        reason: 'shot',
      };
      const endedAt = Date.now();
      assert.equal(await finishDuel(t.db, g, ['Alice', 'Bob'], 'duel-test', endedAt), 'pending');
      // Written again, as after a COMMIT whose answer was lost: a second job, still one row.
      assert.equal(await finishDuel(t.db, g, ['Alice', 'Bob'], 'duel-test', endedAt), 'pending');
      await until('the outbox is empty', async () => {
        const r = await t.db.query<{ n: string }>('SELECT count(*) AS n FROM noon_jobs');
        return Number(r.rows[0]?.n) === 0;
      });
      const rows = await t.db.query<{ duel_id: string; players: string[]; winner: string; reason: string }>(
        'SELECT duel_id, players, winner, reason FROM duel_analytics',
      );
      assert.deepEqual(rows.rows, [{ duel_id: g.id, players: ['alice', 'bob'], winner: 'alice', reason: 'shot' }]);
      const dead = await t.db.query<{ n: string }>('SELECT count(*) AS n FROM noon_jobs_dead');
      assert.equal(Number(dead.rows[0]?.n), 0);
    });
  });
