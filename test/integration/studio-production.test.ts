/**
 * A studio project in production: scaffolded from the checkout (`noon init`, noon packed into its
 * vendor/), installed, given services of its own (test/support/studio-fixture.ts), compiled with
 * `npm run build` (tsc) and run from the compiled `.js` — every role its own process,
 * `noon start <role>` from the installed bin, on Postgres and Redis, with a guard preloaded into
 * each that fails any load of tsx. Through BrokerList and the broker a client calls:
 * - the studio's service (a grant through the built-in player, a push back, once per key);
 * - a second studio service calling the first with `ctx.services.of`;
 * - a method letting the built-in player's GameError INSUFFICIENT_FUNDS through, and one throwing
 *   the studio's own GameError BAD_REQUEST: both arrive typed, as the declared exception;
 * - the built-in player extended (`extendModule`: a wrapped spendCurrency) and the leaderboard
 *   replaced by the studio's own: the client gets their answers.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Int64 from 'node-int64';
import { NOON, TestProcess, killAllProcesses } from '../support/process';
import { cleanEnv, tempDir } from '../support/cli-proc';
import { createClusterData, dropClusterData } from '../support/cluster-data';
import { pgUrlFor, redisUrlFor } from '../support/services';
import { GIFTS_THRIFT, STUDIO_SERVICES } from '../support/studio-fixture';
import { until } from '../support/wait';
import { Currency, SpendRequest } from '../../shared/protocol';
import type { ClientClass } from '../../shared/thrift/channel';
import type * as NoonSdk from '../../client';

const REDIS_DB = 13;
const SETUP_DEADLINE_MS = 420_000;
const ROLE_DEADLINE_MS = 60_000;
const dbName = `noon_studio_prod_${randomBytes(4).toString('hex')}`;
const work = tempDir('noon-studio-prod-');
const project = join(work.dir, 'game');
const guard = join(work.dir, 'no-tsx.js');
const bin = join(project, 'node_modules', '.bin', 'noon');
const roles: Record<string, TestProcess> = {};
const timings: Record<string, number> = {};
let brokerlist = '';

interface GameErrorLike {
  code?: number;
  message?: string;
  constructor: { name: string };
}
interface GiftLike {
  note?: string;
  soft?: { toString(): string };
}
/** The part of the project's compiled `gifts` code the client uses. */
interface GiftsCode {
  Gifts: {
    Client: ClientClass<{
      give(note: string, key: string): Promise<GiftLike>;
      splurge(soft: Int64, key: string): Promise<void>;
      refuse(why: string): Promise<void>;
    }>;
  };
  Relay: { Client: ClientClass<{ forward(note: string, key: string): Promise<GiftLike> }> };
  GiftEvents: { Processor: new (handler: { gifted(gift: GiftLike): void }) => unknown };
}

/** A developer's shell: none of npm's or this runner's variables, no NOON_*. */
function shellEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = cleanEnv(extra);
  for (const k of Object.keys(env))
    if (k === 'NODE_TEST_CONTEXT' || k === 'INIT_CWD' || k.startsWith('npm_')) delete env[k];
  return env;
}

function step(what: string, file: string, args: string[], cwd: string, deadlineMs: number): string {
  const t = Date.now();
  try {
    return execFileSync(file, args, {
      cwd,
      env: shellEnv(),
      encoding: 'utf8',
      timeout: deadlineMs,
      maxBuffer: 64 << 20,
    });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`${what} failed: ${String(err)}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  } finally {
    timings[what] = Date.now() - t;
  }
}

async function start(role: string, env: NodeJS.ProcessEnv): Promise<Record<string, unknown>> {
  const p = new TestProcess([bin, 'start', role], env, `installed noon start ${role}`, { cwd: project });
  roles[role] = p;
  return p.ready(ROLE_DEADLINE_MS, role);
}

before(
  async () => {
    writeFileSync(
      guard,
      "const M = require('node:module');\nconst resolve = M._resolveFilename;\n" +
        'M._resolveFilename = function (request, ...rest) {\n' +
        "  if (/^tsx(\\/|$)/.test(request)) throw new Error('a production role loaded tsx: ' + request);\n" +
        '  return resolve.call(this, request, ...rest);\n};\n',
    );
    step('noon init (with npm pack)', process.execPath, [NOON, 'init', project], work.dir, 180_000);
    writeFileSync(join(project, 'idl', 'gifts.thrift'), GIFTS_THRIFT);
    for (const [rel, text] of Object.entries(STUDIO_SERVICES)) writeFileSync(join(project, rel), text);
    step('npm install', 'npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], project, 300_000);
    step('npm run build (noon gen, tsc)', 'npm', ['run', 'build'], project, 180_000);

    // Production config: the compiled modules; duel and chat off (not part of this game).
    const configPath = join(project, 'noon.config.json');
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
    config.services = Object.keys(STUDIO_SERVICES).map((f) => `dist/${f.replace(/\.ts$/, '.js')}`);
    config.builtins = { duel: false, chat: false };
    writeFileSync(configPath, JSON.stringify(config, null, 2));

    await createClusterData(dbName, REDIS_DB);
    const env = shellEnv({
      NODE_OPTIONS: `--require ${guard}`,
      NOON_PG_URL: pgUrlFor(dbName),
      NOON_REDIS: redisUrlFor(REDIS_DB),
      NOON_HEARTBEAT_MS: '200',
      NOON_SCRYPT_N: '1024',
      NOON_LOG_LEVEL: 'warn',
      NOON_YELLOW_PORT: '0',
      NOON_BROKER_PORT: '0',
      NOON_BROKER_WS_PORT: '0',
      NOON_BROKERLIST_PORT: '0',
      NOON_METRICS_PORT: '0',
      NOON_DATA_DIR: join(work.dir, 'data'),
    });
    const t = Date.now();
    env.NOON_YELLOW = String((await start('yellow', env)).router);
    // sso first (keys and the session store), then the rest side by side
    await start('sso', env);
    const ready = await Promise.all(
      ['player', 'leaderboard', 'gifts', 'relay', 'broker', 'brokerlist'].map((r) => start(r, env)),
    );
    brokerlist = String(ready[5]?.url);
    timings['noon start x8'] = Date.now() - t;
  },
  { timeout: SETUP_DEADLINE_MS },
);

after(async () => {
  await Promise.all(Object.values(roles).map((p) => p.stop('SIGTERM')));
  killAllProcesses();
  await dropClusterData(dbName, REDIS_DB);
  work.remove();
  process.stderr.write(`studio production timings (ms): ${JSON.stringify(timings)}\n`);
});

// eslint-disable-next-line @typescript-eslint/no-require-imports
const sdk = (): typeof NoonSdk => require(join(project, 'node_modules', 'noon', 'dist', 'client', 'index.js'));
// eslint-disable-next-line @typescript-eslint/no-require-imports
const gen = (): GiftsCode => require(join(project, 'dist', 'src', 'gen', 'gifts'));

/** A logged-in client, once the broker routes the studio's services (it learns them from Yellow). */
async function player(name: string): Promise<NoonSdk.NoonClient> {
  const client = await sdk().NoonClient.viaBrokerList(brokerlist);
  await client.sso.register(name, 'a-long-password');
  const relay = client.service(gen().Relay.Client, 'Relay');
  await until(
    'the broker routes Gifts and Relay',
    () => relay.forward('probe', `probe-${name}`).then(() => true),
    15_000,
    100,
  );
  return client;
}

async function gameError(p: Promise<unknown>): Promise<GameErrorLike> {
  return p.then(
    () => assert.fail('the call succeeded'),
    (e: GameErrorLike) => e,
  );
}

test('every role runs from compiled JavaScript: no process loaded tsx', () => {
  for (const [role, p] of Object.entries(roles)) {
    assert.ok(p.alive, `${role} is running`);
    assert.doesNotMatch(p.tail(200), /loaded tsx/, role);
  }
});

test("the studio's method, from its compiled module, grants once per key and pushes to the caller", async () => {
  const client = await player('prod-ann');
  try {
    const wallet = async () => Number((await client.player.getWallet()).soft?.toString());
    const before = await wallet();
    const pushes: string[] = [];
    client.onPushes('GiftEvents', gen().GiftEvents.Processor, {
      gifted: (g: GiftLike) => void pushes.push(String(g.note)),
    });
    const gifts = client.service(gen().Gifts.Client, 'Gifts');
    assert.equal((await gifts.give('welcome', 'k-1')).note, 'welcome');
    await gifts.give('welcome', 'k-1'); // a retry: no second grant
    await until('both pushes', () => pushes.filter((n) => n === 'welcome').length === 2, 10_000);
    assert.equal(await wallet(), before + 25);
  } finally {
    client.close();
  }
});

test('a second studio service calls the first through ctx.services.of, end to end', async () => {
  const client = await player('prod-bob');
  try {
    const before = Number((await client.player.getWallet()).soft?.toString());
    const pushes: string[] = [];
    client.onPushes('GiftEvents', gen().GiftEvents.Processor, {
      gifted: (g: GiftLike) => void pushes.push(String(g.note)),
    });
    const gift = await client.service(gen().Relay.Client, 'Relay').forward('hello', 'r-1');
    assert.equal(gift.note, 'relayed: hello');
    assert.equal(Number(gift.soft?.toString()), 25);
    // the push of the inner service reaches the outer call's caller
    await until('the relayed push', () => pushes.includes('relayed: hello'), 10_000);
    assert.equal(Number((await client.player.getWallet()).soft?.toString()), before + 25);
  } finally {
    client.close();
  }
});

test("a built-in's GameError through a studio service, and the studio's own, arrive typed", async () => {
  const client = await player('prod-cyd');
  try {
    const gifts = client.service(gen().Gifts.Client, 'Gifts');
    const funds = await gameError(gifts.splurge(new Int64(1_000_000), 'sp-1'));
    assert.equal(funds.constructor.name, 'GameError', `typed, not ${funds.constructor.name}: ${funds.message}`);
    assert.equal(funds.code, 7, 'INSUFFICIENT_FUNDS');
    const bad = await gameError(gifts.refuse('because'));
    assert.equal(bad.constructor.name, 'GameError', `typed, not ${bad.constructor.name}: ${bad.message}`);
    assert.equal(bad.code, 1, 'BAD_REQUEST');
    assert.equal(bad.message, 'refused: because');
  } finally {
    client.close();
  }
});

test('the extended player and the replaced leaderboard are what the broker routes to', async () => {
  const client = await player('prod-dee');
  try {
    const spend = (reason: string, key: string) =>
      client.player.spendCurrency(
        new SpendRequest({ idempotencyKey: key, currency: Currency.SOFT, amount: new Int64(5), reason }),
      );
    const refused = await gameError(spend('contraband', 's-1'));
    assert.equal(refused.constructor.name, 'GameError', `typed, not ${refused.constructor.name}: ${refused.message}`);
    assert.equal(refused.code, 3, 'FORBIDDEN');
    assert.equal(refused.message, 'studio rule: no contraband');
    // the wrapped handler hands everything else to the built-in's
    assert.ok(Number((await spend('hat', 's-2')).soft?.toString()) > 0);

    const top = await client.leaderboard.top('duels', 10);
    assert.deepEqual(
      top.map((e: { username?: string; score?: { toString(): string } }) => [e.username, Number(e.score?.toString())]),
      [['studio-board', 42]],
    );
    assert.equal((await client.leaderboard.ping()).serviceName, 'studio-leaderboard');
  } finally {
    client.close();
  }
});
