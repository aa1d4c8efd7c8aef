/**
 * A broker that drains hands its clients over: separate processes (`noon start <role>`) on real
 * Postgres and Redis. Clients found through BrokerList all sit on broker A while they buy and read
 * their wallets in a loop; a second broker joins; A gets SIGTERM. A leaves BrokerList at once,
 * asks its clients to move (`Events:brokerDraining`), and exits 0 once they have: every client
 * finishes on B with no failed call (not even an outcome-unknown one), every purchase's
 * `walletChanged` push received and every wallet exact. An operator's `noon yellow drain` moves
 * clients the same way and leaves the broker running.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { BuyRequest, Currency } from '../../shared/protocol';
import { NoonClient } from '../../client';
import { kill, killAll, spawnNoon, type Child } from '../support/yellow-harness';
import { until } from '../support/wait';
import { TEST_PG_URL, pgUrlFor, redisUrlFor } from '../support/services';

const REDIS_DB = 5;
const CLIENTS = 12;
const dbName = `noon_drain_${randomBytes(4).toString('hex')}`;
const procs: Child[] = [];
let env: Record<string, string>;
let brokerListUrl: string;
/** the broker the first test leaves running */
let survivor: Child;

async function spawn(role: string): Promise<Child> {
  const c = await spawnNoon(['start', role], env, 60_000);
  procs.push(c);
  return c;
}

async function listedBrokers(): Promise<string[]> {
  const body = (await (await fetch(`${brokerListUrl}/brokers`)).json()) as { brokers: { instanceId: string }[] };
  return body.brokers.map((b) => b.instanceId);
}

/** A client buying and reading its wallet in a loop until stopped; counts everything. */
class Shopper {
  buys = 0;
  reads = 0;
  pushes = 0;
  errors: string[] = [];
  private running = true;
  private loop?: Promise<void>;
  startHard = 0;
  lastHard = 0;

  constructor(readonly client: NoonClient) {
    client.on('walletChanged', (w) => {
      this.pushes++;
      this.lastHard = Number(w.hard?.toString());
    });
  }

  async start(): Promise<void> {
    this.startHard = Number((await this.client.player.getWallet()).hard?.toString());
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.client.player.buyCurrency(
          new BuyRequest({
            receiptId: `dev:gems_50:${randomBytes(8).toString('hex')}`,
            currency: Currency.HARD,
            amount: 50,
          }),
        );
        this.buys++;
        await this.client.player.getWallet();
        this.reads++;
      } catch (err) {
        this.errors.push((err as Error).message);
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

async function shoppers(n: number): Promise<Shopper[]> {
  const out: Shopper[] = [];
  for (let i = 0; i < n; i++) {
    const c = await NoonClient.viaBrokerList(brokerListUrl, { callTimeoutMs: 15_000 });
    await c.sso.register(`dr${randomBytes(4).toString('hex')}`, 'password-drain');
    out.push(new Shopper(c));
  }
  for (const s of out) await s.start();
  return out;
}

/** Every shopper stopped; no call failed; pushes, purchases and wallets agree exactly. */
async function assertNothingLost(all: Shopper[]): Promise<void> {
  for (const s of all) await s.stop();
  for (const s of all) {
    assert.deepEqual(s.errors, [], 'no call failed while the broker drained');
    const wallet = Number((await s.client.player.getWallet()).hard?.toString());
    assert.equal(wallet, s.startHard + 50 * s.buys, 'every acknowledged purchase credited once');
    assert.equal(s.pushes, s.buys, 'one walletChanged push per purchase');
    assert.equal(s.lastHard, wallet, 'the last push shows the final wallet');
  }
}

before(async () => {
  const admin = new pg.Client({ connectionString: TEST_PG_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  env = {
    NOON_PG_URL: pgUrlFor(dbName),
    NOON_REDIS: redisUrlFor(REDIS_DB),
    NOON_HEARTBEAT_MS: '500',
    NOON_SCRYPT_N: '1024',
    NOON_CALLS_PER_SECOND: '5000',
    NOON_LOG_LEVEL: 'warn',
    NOON_YELLOW_PORT: '0',
    NOON_BROKER_PORT: '0',
    NOON_BROKER_WS_PORT: '0',
    NOON_BROKERLIST_PORT: '0',
    NOON_METRICS_PORT: '0',
    NOON_DRAIN_GRACE_MS: '20000',
    NOON_DATA_DIR: `/tmp/${dbName}`,
    NOON_PURCHASE_VERIFIER: 'development',
  };
  const yellow = await spawn('yellow');
  env.NOON_YELLOW = String(yellow.ready.router);
  await Promise.all(['sso', 'player'].map(spawn));
  brokerListUrl = String((await spawn('brokerlist')).ready.url);
});

after(async () => {
  await Promise.all(procs.map((p) => kill(p, 'SIGKILL')));
  killAll();
  const admin = new pg.Client({ connectionString: TEST_PG_URL });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.end();
});

async function brokerServing(): Promise<Child> {
  const b = await spawn('broker');
  await until(
    `broker ${String(b.ready.instanceId)} listed and routing`,
    async () => {
      if (!(await listedBrokers()).includes(String(b.ready.instanceId))) return undefined;
      const c = await NoonClient.connect({ tcp: String(b.ready.tcp) }, { reconnect: false });
      try {
        return (await c.player.ping()) && (await c.sso.ping()) ? true : undefined;
      } finally {
        c.close();
      }
    },
    30_000,
  );
  return b;
}

test('SIGTERM: the broker leaves BrokerList, its clients move to the other broker with nothing lost, then it exits 0', async (t) => {
  const a = await brokerServing();
  const all = await shoppers(CLIENTS);
  for (const s of all) assert.equal(s.client.endpoint, a.ready.tcp, 'every client starts on broker A');
  const b = await brokerServing();
  await until('every shopper bought something on A', () => (all.every((s) => s.buys > 0) ? true : undefined), 30_000);

  const termAt = Date.now();
  a.proc.kill('SIGTERM');
  await until(
    'A gone from BrokerList',
    async () => (!(await listedBrokers()).includes(String(a.ready.instanceId)) ? true : undefined),
    10_000,
    20,
  );
  const unlistedMs = Date.now() - termAt;
  await a.exited;
  const exitedMs = Date.now() - termAt;
  assert.equal(a.proc.exitCode, 0, 'A stopped cleanly');
  // the clients left A before it exited; each is now connected (or reconnecting) to B
  await until(
    'every client on broker B',
    () => (all.every((s) => s.client.endpoint === b.ready.tcp) ? true : undefined),
    30_000,
  );
  const buysAtExit = all.map((s) => s.buys);
  await until(
    'every shopper bought again on B',
    () => (all.every((s, i) => s.buys > (buysAtExit[i] ?? 0)) ? true : undefined),
    30_000,
  );
  await assertNothingLost(all);
  t.diagnostic(`A unlisted ${unlistedMs} ms after SIGTERM; exited after ${exitedMs} ms`);
  for (const s of all) s.client.close();
  survivor = b;
});

test('noon yellow drain: the clients move, the drained broker keeps running and takes none', async () => {
  const other = await brokerServing();
  const all = await shoppers(6);
  // drain whichever of the two brokers holds more of the shoppers; they all end on the other
  const onOther = all.filter((s) => s.client.endpoint === other.ready.tcp).length;
  const [c, d] = onOther * 2 >= all.length ? [other, survivor] : [survivor, other];
  assert.ok(
    all.some((s) => s.client.endpoint === c.ready.tcp),
    'some shoppers are on the broker to drain',
  );
  const cli = spawnSync(
    process.execPath,
    [join('bin', 'noon.js'), 'yellow', 'drain', String(c.ready.instanceId), '--yellow', env.NOON_YELLOW ?? ''],
    { cwd: join(__dirname, '..', '..'), encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...env } },
  );
  assert.equal(cli.status, 0, cli.stderr);
  await until(
    'every shopper on D',
    () => (all.every((s) => s.client.endpoint === d.ready.tcp) ? true : undefined),
    30_000,
  );
  assert.equal(c.proc.exitCode, null, 'a drained broker keeps running');
  const refused = await NoonClient.connect({ tcp: String(c.ready.tcp) }, { reconnect: false })
    .then(async (x) => {
      try {
        await x.sso.ping();
        return false;
      } catch {
        return true;
      } finally {
        x.close();
      }
    })
    .catch(() => true);
  assert.ok(refused, 'a drained broker takes no new connection');
  await assertNothingLost(all);
  for (const s of all) s.client.close();
});
