/**
 * Logins that cannot be turned against their owner, end to end: a real broker, the real sso and
 * player services (PGlite), SDK clients bound to different loopback source addresses
 * (127.0.0.x). Wrong passwords from other addresses do not stop the owner; one address hammering
 * login calls is refused at the broker (per address, across reconnects), another is not.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { NoonClient, errorCode } from '../../client';
import { openDb } from '../../shared/data/db';
import { migrate } from '../../shared/data/migrate';
import type { Db } from '../../shared/data/sql';
import { silentLogger } from '../../shared/log';
import { createSsoModule } from '../../services/sso/module';
import { playerModule } from '../../services/player/module';
import { startBrokerCluster, type BrokerCluster } from '../support/broker-cluster';
import { until } from '../support/wait';

const PER_IP = 5;
const PASSWORD = 'correct horse 1';

let db: Db;
let cluster: BrokerCluster;
let tcp: string;

before(async () => {
  db = await openDb({ logger: silentLogger() });
  const sso = createSsoModule({ scryptN: 1024 });
  await migrate(db, 'sso', sso.migrations);
  await migrate(db, 'player', playerModule.migrations);
  cluster = await startBrokerCluster({
    modules: [{ module: sso }, { module: playerModule }],
    db,
    config: { loginAttemptsPerIp: PER_IP, loginAttemptsWindowMs: 60_000 },
  });
  tcp = cluster.brokers[0]!.endpoints.tcp;
  await once('127.0.0.1', (c) =>
    until('the broker routes to Sso', () =>
      c.sso.ping().then(
        () => true,
        () => false,
      ),
    ),
  );
});

after(async () => {
  await cluster?.stop();
  await db?.close();
});

/** One fresh connection from `address` for `work`, closed after: every call is a reconnect. */
async function once<T>(address: string, work: (c: NoonClient) => Promise<T>): Promise<T> {
  const c = await NoonClient.connect({ tcp }, { localAddress: address, reconnect: false });
  try {
    return await work(c);
  } finally {
    c.close();
  }
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return errorCode(err) ?? String(err);
  }
}

function dropped(text: string, reason: string): number {
  const m = new RegExp(`^noon_dropped_total\\{[^}]*reason="${reason}"[^}]*\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

test("five wrong passwords from five other addresses do not stop the owner's login from 127.0.0.1", async () => {
  const name = `owner_${process.pid}`;
  const registered = await once('127.0.0.1', (c) => c.sso.register(name, PASSWORD));
  for (let i = 2; i <= 6; i++) {
    const code = await once(`127.0.0.${i}`, (c) => codeOf(c.sso.login(name, `wrong-${i}-password`)));
    assert.equal(code, 'INVALID_CREDENTIALS', `from 127.0.0.${i}`);
  }
  const started = Date.now();
  const session = await once('127.0.0.1', (c) => c.sso.login(name, PASSWORD));
  assert.equal(session.userId, registered.userId);
  assert.ok(Date.now() - started < 3000, `slowed at most a little: ${Date.now() - started} ms`);
});

test('an address hammering logins over reconnects is refused at the broker; another address is not', async () => {
  const hammer = '127.0.0.7';
  const codes: (string | undefined)[] = [];
  for (let i = 0; i < PER_IP + 3; i++)
    codes.push(await once(hammer, (c) => codeOf(c.sso.login(`nobody_${process.pid}_${i}`, 'some-password'))));
  assert.deepEqual(codes, [
    ...Array.from({ length: PER_IP }, () => 'INVALID_CREDENTIALS'),
    'RATE_LIMITED',
    'RATE_LIMITED',
    'RATE_LIMITED',
  ]);
  const refusal = await once(hammer, (c) => c.sso.loginDevice('also-counted-1234567').catch((e: Error) => e));
  assert.match(String((refusal as Error).message), /^RATE_LIMITED: over 5 login calls per 60000 ms from this address/);
  assert.equal(await once(hammer, (c) => codeOf(c.sso.ping())), 'ok', 'other calls are not counted');

  const name = `other_${process.pid}`;
  const fresh = await once('127.0.0.8', (c) => c.sso.register(name, PASSWORD));
  assert.equal((await once('127.0.0.8', (c) => c.sso.login(name, PASSWORD))).userId, fresh.userId);

  const metrics = await cluster.brokers[0]!.broker.metrics.registry.getSingleMetricAsString('noon_dropped_total');
  assert.equal(dropped(metrics, 'login_rate_limited'), 4, 'every refusal is counted');
});
