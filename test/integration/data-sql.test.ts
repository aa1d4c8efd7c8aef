// One conformance body for the Db interface, run against embedded PGlite and the machine's real
// Postgres (a throwaway schema per run, dropped after). A missing Postgres fails, never skips.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../shared/log';
import { openDb } from '../../shared/data/db';
import { migrate, type Migration } from '../../shared/data/migrate';
import { PgDb } from '../../shared/data/pg';
import type { Db } from '../../shared/data/sql';
import { TEST_PG_URL } from '../support/services';

const PG_URL = TEST_PG_URL;

const MIGRATIONS: Migration[] = [
  {
    id: '001_counter',
    sql: 'CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL); INSERT INTO counter VALUES (1, 0);',
  },
  { id: '002_items', sql: 'CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL UNIQUE)' },
];

function conformance(label: string, open: () => Promise<Db>, drop: (db: Db) => Promise<void>): void {
  describe(`Db conformance: ${label}`, () => {
    let db: Db;
    before(async () => {
      db = await open();
    });
    after(async () => {
      await drop(db);
      await db.close();
    });

    test('migrations are idempotent, also when started concurrently', async () => {
      const counts = await Promise.all([migrate(db, 'svc', MIGRATIONS), migrate(db, 'svc', MIGRATIONS)]);
      assert.equal(counts[0]! + counts[1]!, 2, 'each migration applied exactly once');
      assert.equal(await migrate(db, 'svc', MIGRATIONS), 0);
      const rows = await db.query<{ id: string }>('SELECT id FROM noon_migrations WHERE service = $1 ORDER BY id', [
        'svc',
      ]);
      assert.deepEqual(
        rows.rows.map((r) => r.id),
        ['001_counter', '002_items'],
      );
      const c = await db.query<{ n: number }>('SELECT n FROM counter WHERE id = 1');
      assert.equal(c.rows[0]?.n, 0, 'the seed row was inserted once');
    });

    test('an edited, already applied migration is refused', async () => {
      const edited = [{ id: '001_counter', sql: 'SELECT 1' }];
      await assert.rejects(migrate(db, 'svc', edited), /was changed after it was applied/);
    });

    test('tx commits, and a throw rolls back', async () => {
      const id = await db.tx(async (q) => {
        const r = await q.query<{ id: number }>('INSERT INTO items (name) VALUES ($1) RETURNING id', ['sword']);
        return r.rows[0]!.id;
      });
      assert.ok(id > 0);
      await assert.rejects(
        db.tx(async (q) => {
          await q.query('INSERT INTO items (name) VALUES ($1)', ['shield']);
          throw new Error('boom');
        }),
        /boom/,
      );
      const names = await db.query<{ name: string }>('SELECT name FROM items ORDER BY name');
      assert.deepEqual(
        names.rows.map((r) => r.name),
        ['sword'],
      );
      const upd = await db.query('UPDATE items SET name = name WHERE name = $1', ['sword']);
      assert.equal(upd.rowCount, 1);
    });

    test('a failed statement aborts the whole transaction', async () => {
      await assert.rejects(
        db.tx(async (q) => {
          await q.query('INSERT INTO items (name) VALUES ($1)', ['axe']);
          await q.query('INSERT INTO items (name) VALUES ($1)', ['sword']); // unique violation
        }),
        (err: unknown) => (err as { code?: string }).code === '23505',
      );
      const r = await db.query('SELECT 1 FROM items WHERE name = $1', ['axe']);
      assert.equal(r.rowCount, 0);
    });

    test('50 concurrent SELECT ... FOR UPDATE increments keep an exact count', async () => {
      await db.query('UPDATE counter SET n = 0 WHERE id = 1');
      const inc = (): Promise<void> =>
        db.tx(async (q) => {
          const r = await q.query<{ n: number }>('SELECT n FROM counter WHERE id = 1 FOR UPDATE');
          await q.query('UPDATE counter SET n = $1 WHERE id = 1', [r.rows[0]!.n + 1]);
        });
      await Promise.all(Array.from({ length: 50 }, inc));
      const r = await db.query<{ n: number }>('SELECT n FROM counter WHERE id = 1');
      assert.equal(r.rows[0]?.n, 50);
    });

    test('serializable conflicts are retried until every increment lands', async () => {
      await db.query('UPDATE counter SET n = 0 WHERE id = 1');
      const inc = (): Promise<void> =>
        db.tx(
          async (q) => {
            const r = await q.query<{ n: number }>('SELECT n FROM counter WHERE id = 1');
            await q.query('UPDATE counter SET n = $1 WHERE id = 1', [r.rows[0]!.n + 1]);
          },
          { isolation: 'serializable' },
        );
      // Few enough that the bounded retries (5 attempts) practically always suffice.
      await Promise.all(Array.from({ length: 4 }, inc));
      const r = await db.query<{ n: number }>('SELECT n FROM counter WHERE id = 1');
      assert.equal(r.rows[0]?.n, 4);
    });
  });
}

conformance(
  'pglite (in memory)',
  () => openDb({ logger: silentLogger() }),
  async () => {},
);

const schema = `noon_test_${randomBytes(6).toString('hex')}`;
conformance(
  `postgres (schema ${schema})`,
  () => openDb({ pgUrl: PG_URL, schema, logger: silentLogger() }),
  async (db) => {
    assert.ok(db instanceof PgDb);
    await db.dropSchema();
  },
);

test('PGlite in a data dir keeps committed data across a reopen', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'noon-data-'));
  try {
    const db1 = await openDb({ dataDir, logger: silentLogger() });
    assert.equal(db1.kind, 'pglite');
    assert.equal(await migrate(db1, 'svc', MIGRATIONS), 2);
    await db1.query('UPDATE counter SET n = 7 WHERE id = 1');
    await db1.close();
    const db2 = await openDb({ dataDir, logger: silentLogger() });
    assert.equal(await migrate(db2, 'svc', MIGRATIONS), 0);
    const r = await db2.query<{ n: number }>('SELECT n FROM counter WHERE id = 1');
    assert.equal(r.rows[0]?.n, 7);
    await db2.close();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('Postgres: the throwaway schema is gone after drop, and a closed Db rejects', async () => {
  const s = `noon_test_${randomBytes(6).toString('hex')}`;
  const db = await openDb({ pgUrl: PG_URL, schema: s, logger: silentLogger() });
  assert.ok(db instanceof PgDb);
  await db.dropSchema();
  const r = await db.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [s]);
  assert.equal(r.rowCount, 0);
  await db.close();
  await assert.rejects(db.query('SELECT 1'), /UNAVAILABLE/);
});

test('Postgres: a transaction left idle by its process is ended within half the statement timeout, so a call waiting on its rows gets them in time', async () => {
  const s = `noon_test_${randomBytes(6).toString('hex')}`;
  // Two instances of one service: `gone` stops mid-transaction (a partitioned host, a dead process
  // whose connection Postgres still sees), `live` then writes the same row.
  const gone = await openDb({ pgUrl: PG_URL, schema: s, logger: silentLogger() });
  const live = await openDb({ pgUrl: PG_URL, schema: s, logger: silentLogger() });
  let resume: () => void = () => undefined;
  try {
    await migrate(live, 'svc', MIGRATIONS);
    let locked!: () => void;
    const rowLocked = new Promise<void>((resolve) => (locked = resolve));
    const resumed = new Promise<void>((resolve) => (resume = resolve));
    const abandoned = gone.tx(async (q) => {
      await q.query('UPDATE counter SET n = n + 100 WHERE id = 1');
      locked();
      // sends nothing more until the test is over: the server sees a session idle in its transaction
      await resumed;
    });
    // settled when the server ends the session, maybe before the test looks
    const outcome = abandoned.then(
      () => new Error('the abandoned transaction committed'),
      (e: Error) => e,
    );
    await rowLocked;
    // waits on the row lock: the server ends the idle session after 1 s, within this statement's 2 s
    await live.query('UPDATE counter SET n = n + 1 WHERE id = 1');
    const r = await live.query<{ n: number }>('SELECT n FROM counter WHERE id = 1');
    assert.equal(r.rows[0]?.n, 1, 'the abandoned transaction was rolled back, the live write applied once');
    resume();
    // its COMMIT finds the session ended: the abandoned call fails, it does not apply late
    assert.match((await outcome).message, /TIMEOUT: transaction outcome unknown/);
    assert.equal((await live.query<{ n: number }>('SELECT n FROM counter WHERE id = 1')).rows[0]?.n, 1);
  } finally {
    resume();
    assert.ok(live instanceof PgDb);
    await live.dropSchema();
    await live.close();
    await gone.close();
  }
});
