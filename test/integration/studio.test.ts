/**
 * A studio builds on noon without forking it. The test packs noon (`npm pack`), scaffolds a
 * project outside the repository (`noon init`), installs the tarball there, adds a service of its
 * own (a new IDL method that grants through the built-in player service with an idempotency key
 * and pushes to the caller), switches the built-in duel service off, generates code (`noon gen`)
 * and runs `noon up` from the installed package (compiled JavaScript). A client built on the
 * project's generated code calls the new method through BrokerList and the broker, receives the
 * push, and the grant is in Postgres exactly once; no duel instance registers and `Duel:*` gets
 * a clear unknown-service error. Nothing in noon's repository is edited.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client as PgClient } from 'pg';
import { NOON, ROOT, TestProcess } from '../support/process';
import { pgUrlFor } from '../support/services';
import { until } from '../support/wait';
import type { ClientClass } from '../../shared/thrift/channel';
import type * as NoonSdk from '../../client';
import { createTestDatabase, dropTestDatabase } from '../support/cluster-data';

const work = mkdtempSync(join(tmpdir(), 'noon-studio-'));
const project = join(work, 'my-game');
const dbName = `noon_studio_${randomBytes(4).toString('hex')}`;
let up: TestProcess | undefined;
let ready: Record<string, unknown>;
const timings: Record<string, number> = {};

function timed<T>(what: string, fn: () => T): T {
  const started = Date.now();
  try {
    return fn();
  } finally {
    timings[what] = Date.now() - started;
  }
}

/** The studio's shell: none of this test runner's own variables (a nested `node --test` would report to us). */
const studioEnv = (): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k === 'NODE_TEST_CONTEXT' || k.startsWith('npm_')) delete env[k];
  return env;
};

function run(cmd: string, args: string[], cwd: string, timeoutMs: number): string {
  return execFileSync(cmd, args, {
    cwd,
    env: studioEnv(),
    encoding: 'utf8',
    timeout: timeoutMs,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

const gitStatus = (): string => run('git', ['status', '--porcelain', '--untracked-files=all'], ROOT, 10_000);
const repoBefore = gitStatus();

// The studio's own service, written as a studio would: IDL, module, config entry.
const GIFTS_THRIFT = `namespace js gifts
include "noon.thrift"

struct Gift {
  1: string note,
  2: i64 soft,
}

service Gifts {
  Gift give(1: string note, 2: string idempotencyKey) throws (1: noon.GameError err),
}

service GiftEvents {
  oneway void gifted(1: Gift gift),
}
`;

const GIFTS_TS = `import Int64 from 'node-int64';
import { protocol, pushMessage, type ServiceModule } from 'noon';
import { GiftEvents, Gifts, Gift } from '../gen/gifts';
import { ErrorCode, GameError } from '../gen/noon';

export const module: ServiceModule<Gifts.IHandler> = {
  role: 'gifts',
  migrations: [],
  build: () => ({
    role: 'gifts',
    thriftService: 'Gifts',
    processor: Gifts.Processor,
    stateful: false,
    idempotentMethods: ['give'],
    handlers: {
      async give(note, idempotencyKey, ctx) {
        if (!idempotencyKey) throw new GameError({ code: ErrorCode.BAD_REQUEST, message: 'idempotencyKey is required' });
        await ctx.services.player.grant(
          new protocol.GrantRequest({
            idempotencyKey: 'gifts:' + idempotencyKey,
            userId: ctx.userId,
            soft: new Int64(25),
            hard: new Int64(0),
            reason: 'gift',
          }),
        );
        const gift = new Gift({ note, soft: new Int64(25) });
        ctx.push(pushMessage('GiftEvents', 'gifted', new GiftEvents.GiftedArgs({ gift })));
        return gift;
      },
    },
  }),
};
`;

/** The part of the project's generated `gifts` code the client uses (it lives outside this repository). */
interface GiftsCode {
  Gifts: {
    Client: ClientClass<{ give(note: string, key: string): Promise<{ note?: string; soft?: { toString(): string } }> }>;
  };
  GiftEvents: { Processor: new (handler: { gifted(gift: { note?: string }): void }) => unknown };
}

before(async () => {
  const tarballs = timed('npm pack', () => {
    run('npm', ['pack', '--silent', '--pack-destination', work], ROOT, 300_000);
    return readdirSync(work).filter((f) => f.endsWith('.tgz'));
  });
  assert.equal(tarballs.length, 1, `one tarball: ${tarballs.join(', ')}`);
  const tarball = join(work, tarballs[0] as string);
  timed('noon init', () => run(process.execPath, [NOON, 'init', project, '--noon', `file:${tarball}`], work, 60_000));
  timed('npm install', () => run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], project, 300_000));

  writeFileSync(join(project, 'idl', 'gifts.thrift'), GIFTS_THRIFT);
  writeFileSync(join(project, 'src', 'services', 'gifts.ts'), GIFTS_TS);
  const configPath = join(project, 'noon.config.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as {
    services: string[];
    builtins: Record<string, boolean>;
  };
  config.services.push('src/services/gifts.ts');
  config.builtins.duel = false;
  writeFileSync(configPath, JSON.stringify(config, null, 2));

  const noonBin = join(project, 'node_modules', '.bin', 'noon');
  timed('noon gen', () => run(noonBin, ['gen'], project, 60_000));
  await createTestDatabase(dbName);
  const env = {
    ...studioEnv(),
    NOON_PG_URL: pgUrlFor(dbName),
    NOON_LOG_LEVEL: 'warn',
    NOON_HEARTBEAT_MS: '200',
    NOON_SCRYPT_N: '1024',
  };
  const flags = ['--yellow-port', '0', '--broker-port', '0', '--broker-ws-port', '0', '--brokerlist-port', '0'];
  const started = Date.now();
  // The installed package's own bin, in the project folder: compiled noon, the project's config.
  up = new TestProcess([noonBin, 'up', ...flags, '--data-dir', join(work, 'data')], env, 'noon up (studio)', {
    cwd: project,
  });
  ready = await up.waitFor('ready line', () => up?.jsonLine({ ready: 'up' }), 120_000);
  timings['noon up'] = Date.now() - started;
});

after(async () => {
  if (up) assert.equal((await up.stop('SIGINT')).code, 0, 'noon up exits 0 on SIGINT');
  await dropTestDatabase(dbName).catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
  process.stderr.write(`studio path timings (ms): ${JSON.stringify(timings)}\n`);
});

test('the installed package runs compiled JavaScript: no TypeScript sources in it', () => {
  const pkg = join(project, 'node_modules', 'noon');
  assert.deepEqual(
    readdirSync(pkg).filter((f) => ['cli', 'rpc', 'broker', 'test', 'bench'].includes(f)),
    [],
    'only dist/, bin/ and the IDL are shipped',
  );
  assert.ok(readdirSync(join(pkg, 'dist', 'cli')).includes('main.js'));
});

test("a client on the project's generated code calls the new method, gets the push, and the grant lands once", async () => {
  // The project's own copies: the SDK from the installed package, the client from its generated code.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const sdk = require(join(project, 'node_modules', 'noon', 'dist', 'client', 'index.js')) as typeof NoonSdk;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const gen = require(join(project, 'src', 'gen', 'gifts')) as GiftsCode;
  const client = await sdk.NoonClient.viaBrokerList(String(ready.brokerlist));
  try {
    const session = await client.sso.register('studio-ann', 'a-long-password');
    const before = Number((await client.player.getWallet()).soft?.toString());
    const pushes: string[] = [];
    client.onPushes('GiftEvents', gen.GiftEvents.Processor, { gifted: (gift) => void pushes.push(String(gift.note)) });
    const gifts = client.service(gen.Gifts.Client, 'Gifts');
    const first = await gifts.give('welcome', 'k-1');
    assert.equal(first.note, 'welcome');
    assert.equal(Number(first.soft?.toString()), 25);
    // The same key again (a retry after an unknown outcome): a gift, but no second grant.
    await gifts.give('welcome', 'k-1');
    await until('both pushes', () => pushes.length === 2, 10_000);
    assert.deepEqual(pushes, ['welcome', 'welcome']);
    assert.equal(Number((await client.player.getWallet()).soft?.toString()), before + 25);

    const db = new PgClient({ connectionString: pgUrlFor(dbName) });
    await db.connect();
    try {
      const rows = await db.query<{ n: string }>(
        'SELECT count(*) AS n FROM player_ledger WHERE user_id = $1 AND idem_key = $2',
        [session.userId, 'g:gifts:k-1'],
      );
      assert.equal(rows.rows[0]?.n, '1', 'the grant is ledgered exactly once');
    } finally {
      await db.end();
    }
  } finally {
    client.close();
  }
});

test('with duel switched off no duel instance runs, and Duel:* gets a clear unknown-service error', async () => {
  const roles = (ready.instances as Array<{ role: string }>).map((i) => i.role);
  assert.ok(roles.includes('gifts') && roles.includes('greeter') && roles.includes('player'), roles.join(','));
  assert.ok(!roles.includes('duel'), `no duel among ${roles.join(', ')}`);
  const yellow = run(
    join(project, 'node_modules', '.bin', 'noon'),
    ['yellow', 'instances', '--json', '--yellow', String(ready.yellow)],
    project,
    30_000,
  );
  assert.deepEqual(
    (JSON.parse(yellow) as Array<{ role: string }>).filter((r) => r.role === 'duel'),
    [],
  );

  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const sdk = require(join(project, 'node_modules', 'noon', 'dist', 'client', 'index.js')) as typeof NoonSdk;
  const client = await sdk.NoonClient.viaBrokerList(String(ready.brokerlist));
  try {
    await client.sso.register('studio-bob', 'a-long-password');
    // A broker still learning routes answers UNAVAILABLE for its first heartbeats; then the verdict.
    const message = await until(
      'the unknown-service error',
      async () => {
        const err = await client.duel.findMatch(0 as never).then(
          () => new Error('findMatch succeeded'),
          (e: Error) => e,
        );
        return /UNAVAILABLE/.test(err.message) ? undefined : err.message;
      },
      10_000,
      100,
    );
    assert.match(message, /UNKNOWN_METHOD: Duel:findMatch: no service Duel runs in this cluster/);
  } finally {
    client.close();
  }
});

test("the scaffold's own greet script calls its method on the running cluster", () => {
  const out = timed('npm run greet', () =>
    run('npm', ['run', '--silent', 'greet', '--', String(ready.brokerlist)], project, 60_000),
  );
  assert.match(out, /reply: Hello, player-[0-9a-f]{6}! \(\+10 soft\)/);
  assert.match(out, /push: {2}Hello, player-[0-9a-f]{6}!/);
});

test("the scaffold's own test passes in the project (its cluster on PGlite)", () => {
  const out = timed('npm test (project)', () => run('npm', ['test', '--silent'], project, 180_000));
  assert.match(out, /# pass 1\b/);
  assert.match(out, /# fail 0\b/);
});

test("no file of noon's repository was changed", () => {
  assert.equal(gitStatus(), repoBefore);
});
