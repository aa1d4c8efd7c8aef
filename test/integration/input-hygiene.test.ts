/**
 * Input hygiene in the RPC layer, on real service instances over ZeroMQ (PGlite, in-process
 * store): a NUL in any string argument is refused where the request is decoded — BAD_REQUEST, one
 * `noon_dropped_total{reason="bad_input"}`, no handler run, no error log line — and unexpected
 * handler errors are logged once per cause per interval (with the stack), then counted.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { errorCode } from '../../client/errors';
import { openDb } from '../../shared/data/db';
import { MemoryKv } from '../../shared/data/memory-kv';
import type { Db } from '../../shared/data/sql';
import { silentLogger } from '../../shared/log';
import { until } from '../support/wait';
import { Currency, Leaderboard, Pong, SpendRequest } from '../../shared/protocol';
import type { ServiceModule } from '../../rpc/api';
import { createSsoModule } from '../../services/sso/module';
import { createPlayerModule } from '../../services/player/module';
import { chatModule } from '../../services/chat';
import { startTestCluster, type TestCluster } from '../support/cluster';
import { anyModule } from '../support/svc-player-util';

interface Line {
  level: number;
  msg: string;
  method?: string;
  err?: { stack?: string; message?: string };
  cause?: string;
  suppressed?: number;
}

const lines: Line[] = [];
const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Line) });
const INTERVAL_MS = 300;

/** A Leaderboard whose top and myRank fail like a bug would (a TypeError), naming their argument. */
const flakyModule: ServiceModule<Leaderboard.IHandler> = {
  role: 'leaderboard',
  migrations: [],
  build: (env) => ({
    role: 'leaderboard',
    thriftService: 'Leaderboard',
    processor: Leaderboard.Processor,
    stateful: false,
    publicMethods: ['ping'],
    handlers: {
      top: (board) => {
        throw new TypeError(`cannot read board ${board}`);
      },
      myRank: () => {
        throw new RangeError('another bug');
      },
      around: () => [],
      report: () => {
        throw new Error('unused');
      },
      ping: () => new Pong({ instance: env.instanceId, serviceName: 'Leaderboard', serverTimeMs: Date.now() }),
    },
  }),
};

let db: Db;
let kv: MemoryKv;
let cluster: TestCluster;

before(async () => {
  db = await openDb({ logger: silentLogger() });
  kv = new MemoryKv();
  kv.start();
  cluster = await startTestCluster({
    modules: [
      { module: anyModule(createSsoModule({ scryptN: 1024 })) },
      { module: anyModule(createPlayerModule()) },
      { module: anyModule(chatModule) },
      { module: anyModule(flakyModule) },
    ],
    deps: { db, kv },
    logger,
    config: { errorLogIntervalMs: INTERVAL_MS },
  });
});

after(async () => {
  await cluster?.stop();
  await kv?.close();
  await db?.close();
});

/** The error code a call rejected with (fails the test if it resolved). */
async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return errorCode(err) ?? `not a coded error: ${String(err)}`;
  }
  assert.fail('expected the call to fail');
}

async function droppedBadInput(role: string): Promise<number> {
  const svc = cluster.services.find((s) => s.role === role);
  const text = await (await fetch(String(svc?.ready.metrics))).text();
  const m = /^noon_dropped_total\{[^}]*reason="bad_input"[^}]*\} (\d+)$/m.exec(text);
  return m ? Number(m[1]) : 0;
}

test('a NUL in a username (register, login), a chat text or an idempotency key is BAD_REQUEST, counted, and never logged', async () => {
  lines.length = 0;
  const anon = cluster.anonymous();
  const user = cluster.user(`u-${process.pid}`);
  const calls: [string, () => Promise<unknown>][] = [
    ['Sso:register', () => anon.clients.sso.register('nul\u0000name', 'password-123')],
    // login looks the name up (register's own check refused it already): before, Postgres did
    ['Sso:login', () => anon.clients.sso.login('nul\u0000name', 'password-123')],
    ['Chat:say', () => user.clients.chat.say('lobby', 'hello\u0000world')],
    [
      'Player:spendCurrency',
      () =>
        user.clients.player.spendCurrency(
          new SpendRequest({ idempotencyKey: 'key\u0000', currency: Currency.SOFT, amount: 1, reason: 'test' }),
        ),
    ],
  ];
  for (const [method, call] of calls) {
    let message = '';
    const code = await codeOf(
      call().catch((err: unknown) => {
        message = (err as Error).message;
        throw err;
      }),
    );
    assert.equal(code, 'BAD_REQUEST', method);
    assert.equal(message, 'BAD_REQUEST: a string argument contains a NUL character', method);
  }
  assert.deepEqual(
    [await droppedBadInput('sso'), await droppedBadInput('chat'), await droppedBadInput('player')],
    [2, 1, 1],
  );
  assert.deepEqual(anon.directives, [], 'no session was made');
  assert.deepEqual(
    lines.filter((l) => l.level >= 40),
    [],
    'no warning or error line (in particular no "handler failed")',
  );
  // the same calls without the NUL reach their handlers (a control: the refusal was the NUL's)
  assert.equal(
    (await anon.clients.sso.register(`clean_${process.pid}`, 'password-123')).username,
    `clean_${process.pid}`,
  );
});

test('unexpected handler errors: one line with the stack per cause per interval, then a count', async () => {
  lines.length = 0;
  const u = cluster.user('u-flaky');
  for (let i = 0; i < 25; i++) assert.equal(await codeOf(u.clients.leaderboard.top(`board${i}`, 10)), 'INTERNAL');
  const failed = lines.filter((l) => l.msg === 'handler failed');
  assert.equal(failed.length, 1, 'the digits in the message do not make 25 causes');
  assert.equal(failed[0]?.method, 'Leaderboard:top');
  assert.match(failed[0]?.err?.stack ?? '', /TypeError: cannot read board board0\n\s+at /);

  // another cause is logged on its own
  assert.equal(await codeOf(u.clients.leaderboard.myRank('b')), 'INTERNAL');
  assert.equal(lines.filter((l) => l.msg === 'handler failed').length, 2);

  // the count may be reported in more than one summary when the calls spanned a report
  const summaries = (): typeof lines => lines.filter((l) => l.msg.startsWith('repeated errors not logged'));
  const suppressed = (): number => summaries().reduce((n, l) => n + Number(l.suppressed), 0);
  await cluster.until('the count of the errors not logged', () => suppressed() >= 24, INTERVAL_MS * 10);
  assert.deepEqual(
    [...new Set(summaries().map((l) => l.cause))],
    ['handler failed Leaderboard:top: TypeError: cannot read board board#'],
  );
  assert.equal(suppressed(), 24);

  // a new interval: the cause is logged again, once (calls until the interval turns)
  const topLines = (): number =>
    lines.filter((l) => l.msg === 'handler failed' && l.method === 'Leaderboard:top').length;
  await until(
    'the cause logged again in a new interval',
    async () => {
      assert.equal(await codeOf(u.clients.leaderboard.top('again', 1)), 'INTERNAL');
      return topLines() >= 2;
    },
    INTERVAL_MS * 20,
  );
  assert.equal(topLines(), 2);
});
