/**
 * The sso service over ZeroMQ with real Redis (unique key prefix per database kind, deleted
 * after): register/login/resume/logout, credentials errors, login backoff (slowed, never locked
 * out), tokens, device (guest) accounts and their upgrade. Every test runs
 * on PGlite and on real Postgres (throwaway schema), each with its own cluster. Postgres and Redis
 * are required: without them this test fails, it does not skip.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { openKv } from '../../shared/data/store';
import type { Db } from '../../shared/data/sql';
import type { Kv } from '../../shared/data/kv';
import { silentLogger } from '../../shared/log';
import { ErrorCode, GameError, type Session } from '../../shared/protocol';
import { createSsoModule } from '../../services/sso/module';
import { deviceIdHash, DEVICE_ID_RULE } from '../../services/sso/handlers';
import { PasswordHasher } from '../../services/sso/password';
import { Limiter } from '../../services/sso/limiter';
import { createPlayerModule } from '../../services/player/module';
import { startTestCluster, type TestCluster, type TestUser } from '../support/cluster';
import { anyModule } from '../support/svc-player-util';
import { DB_KINDS, openTestDb, type TestDb } from '../support/test-db';
import { TEST_REDIS_URL } from '../support/services';

const REDIS_URL = TEST_REDIS_URL;
const RUN = `${process.pid}-${randomBytes(3).toString('hex')}`;
const PASSWORD = 'correct horse 1';

for (const kind of DB_KINDS)
  describe(`sso on ${kind}`, () => {
    const PREFIX = `t-sso-${RUN}-${kind}:`;
    let testDb: TestDb | undefined;
    let db: Db;
    let kv: Kv;
    let cluster: TestCluster;
    /** the sessions' clock runs `skewMs` ahead of real time */
    let skewMs = 0;
    let names = 0;

    before(async () => {
      testDb = await openTestDb(kind, 'sso');
      db = testDb.db;
      kv = await openKv({ redis: [REDIS_URL], keyPrefix: PREFIX, logger: silentLogger() });
      const sso = createSsoModule({ scryptN: 2 ** 14, sessionTtlMs: 3_600_000, now: () => Date.now() + skewMs });
      cluster = await startTestCluster({
        modules: [{ module: anyModule(sso), count: 2 }, { module: anyModule(createPlayerModule()) }],
        deps: { db, kv },
      });
    });

    after(async () => {
      await cluster?.stop();
      await kv?.close();
      const redis = new Redis(REDIS_URL);
      try {
        const keys = await redis.keys(`${PREFIX}*`);
        if (keys.length > 0) await redis.del(...keys);
      } finally {
        redis.disconnect();
      }
      await testDb?.drop();
    });

    function newName(tag: string): string {
      return `${tag}_${process.pid}_${names++}`;
    }

    /** The GameError a call rejected with (fails the test if it resolved or threw something else). */
    async function gameError(p: Promise<unknown>): Promise<GameError> {
      try {
        await p;
      } catch (err) {
        if (err instanceof GameError) return err;
        throw err;
      }
      assert.fail('expected a GameError');
    }

    function authOf(u: TestUser): unknown[] {
      return u.directives.filter((d) => d.type === 'auth');
    }

    async function registered(tag: string): Promise<{ name: string; session: Session; conn: TestUser }> {
      const conn = cluster.anonymous();
      const name = newName(tag);
      const session = await conn.clients.sso.register(name, PASSWORD);
      return { name, session, conn };
    }

    test('register makes a session, logs the connection in, and creates the player profile', async () => {
      const { name, session, conn } = await registered('reg');
      assert.equal(session.username, name);
      assert.deepEqual(authOf(conn), [
        { type: 'auth', sessionId: session.sessionId, userId: session.userId, username: name },
      ]);
      // The harness follows the directive: this connection now calls as the new user.
      assert.equal(conn.userId, session.userId);
      const profile = await conn.clients.player.getProfile();
      assert.equal(profile.username, name);
      assert.equal(Number(profile.wallet?.soft?.toString()), 1000);
      assert.equal((await conn.clients.player.listUnits()).length, 3);
      assert.ok(Number(session.expiresAtMs?.toString()) > Date.now() + 3_500_000);
    });

    test('register refuses taken names (in any letter case) and bad input', async () => {
      const { name } = await registered('Dup');
      const again = cluster.anonymous();
      assert.equal(
        (await gameError(again.clients.sso.register(name.toUpperCase(), PASSWORD))).code,
        ErrorCode.ALREADY_EXISTS,
      );
      assert.equal((await gameError(again.clients.sso.register('ab', PASSWORD))).code, ErrorCode.BAD_REQUEST);
      assert.equal((await gameError(again.clients.sso.register('bad name!', PASSWORD))).code, ErrorCode.BAD_REQUEST);
      assert.equal(
        (await gameError(again.clients.sso.register(newName('short'), '1234567'))).code,
        ErrorCode.BAD_REQUEST,
      );
      assert.deepEqual(authOf(again), []);
    });

    test('login then resume keeps the sessionId and re-authenticates on another connection', async () => {
      const { name, session: reg } = await registered('res');
      const conn = cluster.anonymous();
      const s = await conn.clients.sso.login(name, PASSWORD);
      assert.equal(s.userId, reg.userId);
      assert.notEqual(s.sessionId, reg.sessionId, 'each login is a new session');
      assert.notEqual(s.token, reg.token);
      const other = cluster.anonymous();
      const r = await other.clients.sso.resume(s.token ?? '');
      assert.equal(r.sessionId, s.sessionId);
      assert.equal(r.userId, s.userId);
      assert.equal(String(r.expiresAtMs), String(s.expiresAtMs));
      assert.deepEqual(authOf(other), [{ type: 'auth', sessionId: s.sessionId, userId: s.userId, username: name }]);
      // resume is idempotent: twice more (cache hit now), same session
      for (let i = 0; i < 2; i++)
        assert.equal((await cluster.anonymous().clients.sso.resume(s.token ?? '')).sessionId, s.sessionId);
    });

    test('tokens are 256-bit random base64url strings, distinct per session, never stored in clear', async () => {
      const { name, session } = await registered('tok');
      const tokens = new Set<string>([session.token ?? '']);
      for (let i = 0; i < 3; i++) tokens.add((await cluster.anonymous().clients.sso.login(name, PASSWORD)).token ?? '');
      assert.equal(tokens.size, 4);
      for (const t of tokens) {
        assert.match(t, /^[A-Za-z0-9_-]+$/);
        assert.ok(Buffer.from(t, 'base64url').length * 8 >= 128, 'at least 128 bits');
      }
      const stored = await db.query<{ n: string }>(
        'SELECT count(*)::text AS n FROM sso_sessions WHERE token_hash = ANY($1)',
        [[...tokens]],
      );
      assert.equal(stored.rows[0]?.n, '0', 'the table holds hashes, not tokens');
    });

    test('wrong password and unknown user give the same INVALID_CREDENTIALS', async () => {
      const { name } = await registered('cred');
      const wrong = await gameError(cluster.anonymous().clients.sso.login(name, 'not the password'));
      const unknown = await gameError(cluster.anonymous().clients.sso.login(newName('nobody'), 'not the password'));
      assert.equal(wrong.code, ErrorCode.INVALID_CREDENTIALS);
      assert.deepEqual({ ...unknown }, { ...wrong });
    });

    test('failed logins from other connections slow the account but never lock its owner out', async () => {
      const { name, session } = await registered('rl');
      for (let i = 0; i < 7; i++) {
        // a fresh connection each time, as an attacker reconnecting would
        assert.equal(
          (await gameError(cluster.anonymous().clients.sso.login(name, `wrong-${i}-pass`))).code,
          ErrorCode.INVALID_CREDENTIALS,
        );
      }
      // the 8th attempt since the last success: slowed by the cap (1 s), then checked
      let started = Date.now();
      const owner = await cluster.anonymous().clients.sso.login(name, PASSWORD);
      const slowed = Date.now() - started;
      assert.equal(owner.userId, session.userId);
      assert.ok(slowed >= 950 && slowed < 4000, `slowed ${slowed} ms`);
      // the success cleared the account's count: the next login is not slowed
      started = Date.now();
      assert.equal((await cluster.anonymous().clients.sso.login(name, PASSWORD)).userId, session.userId);
      assert.ok(Date.now() - started < 900, `not slowed: ${Date.now() - started} ms`);
    });

    test('a concurrent burst of guesses from many connections is checked and failed, then the owner gets in', async () => {
      const { name, session } = await registered('burst');
      const codes = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          gameError(cluster.anonymous().clients.sso.login(name, `guess-${i}-pass`)).then((e) => e.code),
        ),
      );
      assert.deepEqual(
        codes,
        Array.from({ length: 12 }, () => ErrorCode.INVALID_CREDENTIALS),
      );
      assert.equal((await cluster.anonymous().clients.sso.login(name, PASSWORD)).userId, session.userId);
    });

    test('one connection that keeps failing on one account must back off; a fresh connection need not', async () => {
      const { name, session } = await registered('pair');
      const conn = cluster.anonymous();
      for (let i = 0; i < 2; i++)
        assert.equal(
          (await gameError(conn.clients.sso.login(name, `wrong-${i}-pass`))).code,
          ErrorCode.INVALID_CREDENTIALS,
        );
      // after the 2nd failure this (account, connection) waits 1 s: even the right password
      const held = await gameError(conn.clients.sso.login(name, PASSWORD));
      assert.equal(held.code, ErrorCode.RATE_LIMITED);
      assert.equal(held.retryable, true);
      assert.deepEqual(authOf(conn), []);
      assert.equal((await cluster.anonymous().clients.sso.login(name, PASSWORD)).userId, session.userId);
    });

    test('failed logins are rate limited per connection (20 per minute) across accounts', async () => {
      const conn = cluster.anonymous();
      for (let i = 0; i < 20; i++) {
        assert.equal(
          (await gameError(conn.clients.sso.login(newName('spray'), 'whatever-pass'))).code,
          ErrorCode.INVALID_CREDENTIALS,
        );
      }
      const { name } = await registered('victim');
      assert.equal((await gameError(conn.clients.sso.login(name, PASSWORD))).code, ErrorCode.RATE_LIMITED);
      // another connection is not affected
      assert.equal((await cluster.anonymous().clients.sso.login(name, PASSWORD)).username, name);
    });

    test('garbage, oversized and expired tokens are UNAUTHENTICATED (revoked: see logout)', async () => {
      const conn = cluster.anonymous();
      const bad = [
        '',
        'x',
        'A'.repeat(43).replace(/A$/, '!'),
        'A'.repeat(43),
        randomBytes(32).toString('base64url'),
        'A'.repeat(8000),
      ];
      for (const t of bad)
        assert.equal(
          (await gameError(conn.clients.sso.resume(t))).code,
          ErrorCode.UNAUTHENTICATED,
          `token ${t.slice(0, 12)}…`,
        );

      const { session } = await registered('exp');
      skewMs = 3_600_000 + 1000;
      try {
        assert.equal(
          (await gameError(conn.clients.sso.resume(session.token ?? ''))).code,
          ErrorCode.UNAUTHENTICATED,
          'expired',
        );
      } finally {
        skewMs = 0;
      }
      assert.equal(
        (await conn.clients.sso.resume(session.token ?? '')).sessionId,
        session.sessionId,
        'valid again once the clock is back',
      );
      assert.deepEqual(authOf(conn).length, 1);
    });

    test('logout revokes the session everywhere and tells the broker', async () => {
      const { session, conn } = await registered('out');
      // warm the session cache, so revocation must also clear it
      await cluster.anonymous().clients.sso.resume(session.token ?? '');
      await conn.clients.sso.logout();
      assert.ok(conn.directives.some((d) => d.type === 'logout'));
      for (let i = 0; i < 2; i++) {
        assert.equal(
          (await gameError(cluster.anonymous().clients.sso.resume(session.token ?? ''))).code,
          ErrorCode.UNAUTHENTICATED,
        );
      }
      assert.equal((await gameError(cluster.anonymous().clients.sso.logout())).code, ErrorCode.UNAUTHENTICATED);
    });

    test('login creates a missing player profile (register committed but the player call failed)', async () => {
      const name = newName('repair');
      const hasher = new PasswordHasher({ N: 2 ** 14, r: 8, p: 1 }, new Limiter(1, 1));
      const userId = `repair-${randomBytes(4).toString('hex')}`;
      await db.query('INSERT INTO sso_users (user_id, username, password_hash) VALUES ($1, $2, $3)', [
        userId,
        name,
        await hasher.hash(PASSWORD),
      ]);
      const conn = cluster.anonymous();
      assert.equal((await conn.clients.sso.login(name, PASSWORD)).userId, userId);
      assert.equal((await conn.clients.player.getProfile()).username, name);
      const ready = await db.query<{ profile_ready: boolean }>(
        'SELECT profile_ready FROM sso_users WHERE user_id = $1',
        [userId],
      );
      assert.equal(ready.rows[0]?.profile_ready, true);
    });

    const deviceId = (): string => randomBytes(18).toString('base64url');

    test('loginDevice creates the account on first use and finds it again; the id is stored hashed', async () => {
      const id = deviceId();
      const first = cluster.anonymous();
      const s1 = await first.clients.sso.loginDevice(id);
      assert.match(s1.username ?? '', /^guest#[0-9a-f]{12}$/);
      assert.deepEqual(authOf(first), [
        { type: 'auth', sessionId: s1.sessionId, userId: s1.userId, username: s1.username },
      ]);
      const profile = await first.clients.player.getProfile();
      assert.deepEqual([profile.userId, profile.username], [s1.userId, s1.username]);
      assert.equal(Number(profile.wallet?.soft?.toString()), 1000);

      const s2 = await cluster.anonymous().clients.sso.loginDevice(id);
      assert.deepEqual([s2.userId, s2.username], [s1.userId, s1.username], 'the same account');
      assert.notEqual(s2.sessionId, s1.sessionId, 'each device login is a new session');
      assert.notEqual(s2.token, s1.token);

      const rows = await db.query<{ user_id: string; password_hash: string }>(
        'SELECT user_id, password_hash FROM sso_users WHERE device_id_hash = $1 OR device_id_hash = $2',
        [deviceIdHash(id), id],
      );
      assert.deepEqual(rows.rows, [{ user_id: s1.userId, password_hash: '' }], 'one row, keyed by the hash only');
      // a device account has no password: its guest name logs in with none
      for (const pw of ['', 'any-password-1'])
        assert.equal(
          (await gameError(cluster.anonymous().clients.sso.login(s1.username ?? '', pw))).code,
          ErrorCode.INVALID_CREDENTIALS,
        );
    });

    test('concurrent first logins of one device make one account', async () => {
      const id = deviceId();
      const sessions = await Promise.all(
        Array.from({ length: 4 }, () => cluster.anonymous().clients.sso.loginDevice(id)),
      );
      assert.equal(new Set(sessions.map((x) => x.userId)).size, 1);
      assert.equal(new Set(sessions.map((x) => x.sessionId)).size, 4);
    });

    test('loginDevice refuses ids that are short, malformed or not random-looking', async () => {
      const conn = cluster.anonymous();
      for (const id of [
        '',
        'too-short-1234',
        '0000000000000000',
        'abababababababababab',
        'has a space 1234567',
        'x'.repeat(129),
      ]) {
        const err = await gameError(conn.clients.sso.loginDevice(id));
        assert.deepEqual([err.code, err.message], [ErrorCode.BAD_REQUEST, DEVICE_ID_RULE], JSON.stringify(id));
      }
      assert.deepEqual(authOf(conn), []);
    });

    test('upgradeDevice makes a password account of a device account: same userId and session, new name and token', async () => {
      const id = deviceId();
      const dev = cluster.anonymous();
      const guest = await dev.clients.sso.loginDevice(id);
      const elsewhere = await cluster.anonymous().clients.sso.loginDevice(id); // another session of the device
      const name = newName('up');
      const up = await dev.clients.sso.upgradeDevice(name, PASSWORD);
      assert.deepEqual(
        [up.userId, up.sessionId, up.username, String(up.expiresAtMs)],
        [guest.userId, guest.sessionId, name, String(guest.expiresAtMs)],
      );
      assert.notEqual(up.token, guest.token, 'the token is replaced');
      assert.deepEqual(authOf(dev).at(-1), {
        type: 'auth',
        sessionId: guest.sessionId,
        userId: guest.userId,
        username: name,
      });

      const probe = cluster.anonymous();
      assert.equal((await gameError(probe.clients.sso.resume(guest.token ?? ''))).code, ErrorCode.UNAUTHENTICATED);
      assert.equal((await gameError(probe.clients.sso.resume(elsewhere.token ?? ''))).code, ErrorCode.UNAUTHENTICATED);
      const resumed = await probe.clients.sso.resume(up.token ?? '');
      assert.deepEqual([resumed.sessionId, resumed.username], [guest.sessionId, name]);

      assert.equal((await cluster.anonymous().clients.sso.login(name, PASSWORD)).userId, guest.userId);
      const again = await gameError(cluster.anonymous().clients.sso.loginDevice(id));
      assert.equal(again.code, ErrorCode.FORBIDDEN, 'the device no longer opens the account');
      assert.equal(
        (await gameError(dev.clients.sso.upgradeDevice(newName('up2'), PASSWORD))).code,
        ErrorCode.FORBIDDEN,
      );
      // the player profile is the same one (its display name is not renamed: docs/protocol/client.md)
      const profile = await dev.clients.player.getProfile();
      assert.deepEqual([profile.userId, profile.username], [guest.userId, guest.username]);
    });

    test('upgradeDevice refuses a taken name, bad input, password accounts and anonymous callers', async () => {
      const id = deviceId();
      const dev = cluster.anonymous();
      const guest = await dev.clients.sso.loginDevice(id);
      const { name: taken, conn: passwordAccount } = await registered('taken');
      assert.equal(
        (await gameError(dev.clients.sso.upgradeDevice(taken.toUpperCase(), PASSWORD))).code,
        ErrorCode.ALREADY_EXISTS,
      );
      assert.equal((await gameError(dev.clients.sso.upgradeDevice('ab', PASSWORD))).code, ErrorCode.BAD_REQUEST);
      assert.equal(
        (await gameError(dev.clients.sso.upgradeDevice(newName('short'), '1234567'))).code,
        ErrorCode.BAD_REQUEST,
      );
      // nothing changed: the device still opens its guest account
      const still = await cluster.anonymous().clients.sso.loginDevice(id);
      assert.deepEqual([still.userId, still.username], [guest.userId, guest.username]);
      assert.equal(
        (await gameError(passwordAccount.clients.sso.upgradeDevice(newName('pw'), PASSWORD))).code,
        ErrorCode.FORBIDDEN,
      );
      assert.equal(
        (await gameError(cluster.anonymous().clients.sso.upgradeDevice(newName('anon'), PASSWORD))).code,
        ErrorCode.UNAUTHENTICATED,
      );
    });

    test('ping names the instance', async () => {
      const pong = await cluster.anonymous().clients.sso.ping();
      assert.equal(pong.serviceName, 'sso');
      assert.ok(cluster.services.some((s) => s.env.instanceId === pong.instance));
    });
  });
