/**
 * Safe retries on real processes (`noon start <role>`: Yellow, BrokerList, three brokers, sso,
 * player, one duel instance, two chat instances) on real Postgres and Redis
 * (docs/retries.md). A call sent again with the same request id after its broker was SIGKILLed
 * gets its first outcome and is applied once: Chat:say (rows counted in Postgres) and Duel:act
 * (the opponent's pushes counted, a second draw refused). And the SDK's own retry: a Chat:say
 * whose broker dies after forwarding it (the insert held by a table lock) is sent again by the
 * SDK after the resume and applied once.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import Int64 from 'node-int64';
import pg from 'pg';
import { NoonClient } from '../../client';
import { DuelAction, DuelActRequest, ErrorCode, Events, MatchStatus, type DuelState } from '../../shared/protocol';
import { decodePush, rawClient, type RawClient } from '../support/raw-client';
import { kill, killAll, spawnNoon, type Child } from '../support/yellow-harness';
import { until } from '../support/wait';
import { pgUrlFor, redisUrlFor } from '../support/services';
import { createClusterData, dropClusterData } from '../support/cluster-data';

const REDIS_DB = 11;
const STOP_DEADLINE_MS = 5000;
const dbName = `noon_retries_${randomBytes(4).toString('hex')}`;
const procs: Record<string, Child> = {};
const brokers: Child[] = [];
const raws: RawClient[] = [];
const clients: NoonClient[] = [];
let env: Record<string, string>;
let brokerListUrl: string;
let db: pg.Client;

function live(): Child[] {
  return brokers.filter((b) => b.proc.exitCode === null && b.proc.signalCode === null);
}

function tcpOf(b: Child): string {
  return String(b.ready.tcp);
}

let idSeq = 0;
/** A fresh request id in the SDK's shape: 12 hex of a stream, 8 of a counter. */
function newRequestId(): string {
  return `${randomBytes(6).toString('hex')}${(++idSeq).toString(16).padStart(8, '0')}`;
}

/** A raw client whose next call carries `nextId.value` (when set). */
async function raw(endpoint: string, nextId: { value?: string } = {}): Promise<RawClient> {
  const c = await rawClient(endpoint, 'compact', { requestId: () => nextId.value });
  raws.push(c);
  return c;
}

async function countRows(room: string, text: string): Promise<number> {
  const r = await db.query<{ n: string }>('SELECT count(*) AS n FROM chat_messages WHERE room_id = $1 AND text = $2', [
    room,
    text,
  ]);
  return Number(r.rows[0]?.n);
}

function duelUpdates(c: RawClient): DuelState[] {
  return c.pushes
    .filter((p) => p.name === 'Events:duelUpdated')
    .map((p) => decodePush(p.bytes, Events.DuelUpdatedArgs).state as DuelState);
}

before(async () => {
  await createClusterData(dbName, REDIS_DB);
  env = {
    NOON_PG_URL: pgUrlFor(dbName),
    NOON_REDIS: redisUrlFor(REDIS_DB),
    NOON_HEARTBEAT_MS: '200',
    NOON_SCRYPT_N: '1024',
    NOON_LOG_LEVEL: process.env.RETRIES_LOG_LEVEL ?? 'warn',
    NOON_REQUEST_TIMEOUT_MS: '20000',
    NOON_YELLOW_PORT: '0',
    NOON_BROKER_PORT: '0',
    NOON_BROKER_WS_PORT: '0',
    NOON_BROKERLIST_PORT: '0',
    NOON_METRICS_PORT: '0',
    NOON_DATA_DIR: `/tmp/${dbName}`,
  };
  procs.yellow = await spawnNoon(['start', 'yellow'], env);
  env.NOON_YELLOW = String(procs.yellow.ready.router);
  // no leaderboard: these duels are never finished, so nothing is reported
  const roles = ['sso', 'player', 'duel', 'chat', 'chat', 'broker', 'broker', 'broker', 'brokerlist'];
  const started = await Promise.all(roles.map((r) => spawnNoon(['start', r], env, 180_000)));
  roles.forEach((r, i) => {
    const child = started[i] as Child;
    procs[`${r}${i}`] = child;
    if (r === 'broker') brokers.push(child);
  });
  brokerListUrl = String(procs.brokerlist8?.ready.url);
  for (const b of brokers) {
    await until(
      `broker ${tcpOf(b)} routes to every service`,
      async () => {
        const c = await NoonClient.connect({ tcp: tcpOf(b) }, { reconnect: false });
        try {
          return (await c.duel.ping()) && (await c.chat.ping()) && (await c.player.ping()) && (await c.sso.ping())
            ? true
            : undefined;
        } finally {
          c.close();
        }
      },
      30_000,
    );
  }
  db = new pg.Client({ connectionString: env.NOON_PG_URL });
  await db.connect();
});

after(async () => {
  for (const c of clients) c.close();
  for (const r of raws) r.close();
  await db?.end();
  const stopping = Object.values(procs).map((p) => kill(p, 'SIGTERM'));
  const deadline = setTimeout(() => killAll(), STOP_DEADLINE_MS);
  await Promise.all(stopping);
  clearTimeout(deadline);
  await dropClusterData(dbName, REDIS_DB);
});

test('Chat:say and Duel:act sent again with the same request id through another broker, after a SIGKILL of the first, apply once', async () => {
  const [first, second] = live();
  assert.ok(first && second, 'two live brokers');
  const tag = randomBytes(3).toString('hex');
  const room = `retry-${tag}`;

  // ann plays and chats through the first broker; bob plays through the second (his pushes survive)
  const annId: { value?: string } = {};
  const ann = await raw(tcpOf(first), annId);
  const annSession = await ann.sso.register(`ann${tag}`, 'password-ann');
  const bob = await raw(tcpOf(second));
  await bob.sso.register(`bob${tag}`, 'password-bob');
  await ann.chat.join(room);
  assert.equal((await ann.duel.findMatch(new Int64(0))).status, MatchStatus.QUEUED);
  const ticket = await bob.duel.findMatch(new Int64(0));
  assert.equal(ticket.status, MatchStatus.MATCHED);
  const duelId = ticket.duelId as string;

  const sayId = newRequestId();
  annId.value = sayId;
  const said = await ann.chat.say(room, 'exactly once');
  const drawId = newRequestId();
  annId.value = drawId;
  const drawn = await ann.duel.act(new DuelActRequest({ duelId, action: DuelAction.DRAW }));
  annId.value = undefined;
  assert.equal(drawn.duelId, duelId);
  await bob.duel.ping(); // pushes from the duel instance sent before this reply have been delivered
  const pushedToBob = duelUpdates(bob).length;
  assert.ok(pushedToBob >= 1, 'bob was told of the draw');
  assert.equal(await countRows(room, 'exactly once'), 1);

  await kill(first);

  // the same session on the second broker; the same calls with the same request ids
  const againId: { value?: string } = {};
  const annAgain = await raw(tcpOf(second), againId);
  await annAgain.sso.resume(annSession.token as string);
  againId.value = sayId;
  const saidAgain = await annAgain.chat.say(room, 'exactly once');
  againId.value = drawId;
  const drawnAgain = await annAgain.duel.act(new DuelActRequest({ duelId, action: DuelAction.DRAW }));

  assert.equal(saidAgain.seq?.toString(), said.seq?.toString(), 'the first outcome: the same message');
  assert.equal(await countRows(room, 'exactly once'), 1, 'one row in Postgres');
  assert.deepEqual(drawnAgain, drawn, 'the first outcome: the draw, not "already drawn"');
  await bob.duel.ping();
  assert.equal(duelUpdates(bob).length, pushedToBob, 'no state change pushed for the retry');

  // a new request id is a new call: it runs (a second row; the duel refuses a second draw)
  againId.value = newRequestId();
  const other = await annAgain.chat.say(room, 'exactly once');
  assert.notEqual(other.seq?.toString(), said.seq?.toString());
  assert.equal(await countRows(room, 'exactly once'), 2);
  againId.value = newRequestId();
  await assert.rejects(annAgain.duel.act(new DuelActRequest({ duelId, action: DuelAction.DRAW })), (e: unknown) => {
    assert.equal((e as { code?: number }).code, ErrorCode.CONFLICT);
    // (or, on a loaded machine, its turn ran out meanwhile: the duel is over)
    assert.match(String((e as { message?: string }).message), /already drawn|over/, 'the first draw was applied');
    return true;
  });
});

test('the SDK sends a call again after its broker died with the reply, and it applies once', async () => {
  const tag = randomBytes(3).toString('hex');
  const room = `sdk-${tag}`;
  const c = await NoonClient.viaBrokerList(brokerListUrl, { callTimeoutMs: 30_000, keepAliveMs: 0 });
  clients.push(c);
  await c.sso.register(`cy${tag}`, 'password-cy');
  await c.chat.join(room);
  const brokerOfC = live().find((b) => tcpOf(b) === c.endpoint);
  assert.ok(brokerOfC, `a live broker serves ${c.endpoint}`);

  // Hold every insert into chat_messages: the say reaches its owner, which waits on the lock.
  const locker = new pg.Client({ connectionString: env.NOON_PG_URL });
  await locker.connect();
  await locker.query('BEGIN');
  await locker.query('LOCK TABLE chat_messages IN EXCLUSIVE MODE');
  let released = false;
  try {
    const reconnected = new Promise<void>((resolve) => c.once('reconnected', () => resolve()));
    const say = c.chat.say(room, 'lost reply');
    await until(
      'the insert waits on the lock',
      async () => {
        const r = await db.query(
          `SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' AND query ILIKE '%insert into chat_messages%'`,
          [dbName],
        );
        return r.rowCount ? true : undefined;
      },
      15_000,
    );
    await kill(brokerOfC); // the call was forwarded; its reply has nowhere to go
    await reconnected;
    assert.notEqual(c.endpoint, tcpOf(brokerOfC));
    await locker.query('COMMIT');
    released = true;
    const msg = await say;
    assert.equal(msg.text, 'lost reply');
    assert.equal(await countRows(room, 'lost reply'), 1, 'one row in Postgres');
    const row = await db.query<{ seq: string }>('SELECT seq FROM chat_messages WHERE room_id = $1 AND text = $2', [
      room,
      'lost reply',
    ]);
    assert.equal(msg.seq?.toString(), row.rows[0]?.seq, 'the reply is the stored message');
    // a later call works and gets the next number: nothing else was inserted
    const next = await c.chat.say(room, 'after');
    assert.equal(Number(next.seq?.toString()), Number(msg.seq?.toString()) + 1);
  } finally {
    if (!released) await locker.query('ROLLBACK').catch(() => undefined);
    await locker.end();
  }
});
