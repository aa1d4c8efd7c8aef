/**
 * The whole product as separate processes (`noon start <role>`): Yellow, BrokerList, two brokers,
 * sso, player, leaderboard, two duel instances (stateful) and chat, on real Postgres and Redis.
 * SDK clients find a broker through BrokerList, log in, call, get pushes, play a whole duel,
 * chat across brokers, and survive the death of their broker with their session and binding.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import Int64 from 'node-int64';
import pg from 'pg';
import {
  Currency,
  DuelAction,
  DuelActRequest,
  DuelPhase,
  MatchStatus,
  BuyRequest,
  type ChatMessage,
  type DuelState,
  type MatchTicket,
} from '../../shared/protocol';
import { NoonClient } from '../../client';
import { kill, killAll, spawnNoon, type Child } from '../support/yellow-harness';
import { until } from '../support/wait';
import { pgUrlFor, redisUrlFor } from '../support/services';
import { createClusterData, dropClusterData } from '../support/cluster-data';

const REDIS_DB = 7;
/** How long a role may take to stop cleanly on SIGTERM before it is SIGKILLed. */
const STOP_DEADLINE_MS = 5000;
const dbName = `noon_e2e_${randomBytes(4).toString('hex')}`;
const procs: Record<string, Child> = {};
let env: Record<string, string>;
let brokerListUrl: string;
const clients: NoonClient[] = [];

async function client(name: string): Promise<NoonClient> {
  const c = await NoonClient.viaBrokerList(brokerListUrl, { callTimeoutMs: 8000 });
  clients.push(c);
  await c.sso.register(name, `password-${name}`);
  return c;
}

before(async () => {
  await createClusterData(dbName, REDIS_DB);
  env = {
    NOON_PG_URL: pgUrlFor(dbName),
    NOON_REDIS: redisUrlFor(REDIS_DB),
    NOON_HEARTBEAT_MS: '200',
    NOON_SCRYPT_N: '1024',
    NOON_CALLS_PER_SECOND: '5000',
    NOON_LOG_LEVEL: 'warn',
    NOON_YELLOW_PORT: '0',
    NOON_BROKER_PORT: '0',
    NOON_BROKER_WS_PORT: '0',
    NOON_BROKERLIST_PORT: '0',
    NOON_METRICS_PORT: '0',
    NOON_DATA_DIR: `/tmp/${dbName}`,
    // dev:<productId>:<unique> receipts, credited unverified (a test cluster, never production)
    NOON_PURCHASE_VERIFIER: 'development',
  };
  procs.yellow = await spawnNoon(['start', 'yellow'], env);
  env.NOON_YELLOW = String(procs.yellow.ready.router);
  const roles = ['sso', 'player', 'leaderboard', 'duel', 'duel', 'chat', 'broker', 'broker', 'brokerlist'];
  const started = await Promise.all(roles.map((r) => spawnNoon(['start', r], env, 60_000)));
  roles.forEach((r, i) => (procs[`${r}${i}`] = started[i] as Child));
  brokerListUrl = String(procs.brokerlist8?.ready.url);
  // both brokers listed, and each routes to every service (their Yellow watchers fill in the background)
  await until(
    'two brokers in BrokerList',
    async () => {
      const body = (await (await fetch(`${brokerListUrl}/brokers`)).json()) as { brokerList: Record<string, number> };
      return Object.keys(body.brokerList).length === 2 ? true : undefined;
    },
    15_000,
  );
  // A broker that has not learned a service yet closes an anonymous connection calling it
  // (unknown method), so each attempt uses a fresh connection.
  for (const b of ['broker6', 'broker7']) {
    await until(
      `${b} routes to every service`,
      async () => {
        const c = await NoonClient.connect({ tcp: String(procs[b]?.ready.tcp) }, { reconnect: false });
        try {
          return (await c.duel.ping()) &&
            (await c.chat.ping()) &&
            (await c.leaderboard.ping()) &&
            (await c.player.ping()) &&
            (await c.sso.ping())
            ? true
            : undefined;
        } finally {
          c.close();
        }
      },
      30_000,
    );
  }
});

after(async () => {
  for (const c of clients) c.close();
  // SIGTERM first (a clean stop deregisters); anything still running after 5 s is SIGKILLed.
  const stopping = Object.values(procs).map((p) => kill(p, 'SIGTERM'));
  const deadline = setTimeout(() => killAll(), STOP_DEADLINE_MS);
  await Promise.all(stopping);
  clearTimeout(deadline);
  await dropClusterData(dbName, REDIS_DB);
});

test('a client found through BrokerList logs in, calls, and gets a push', async () => {
  const ann = await client(`ann${randomBytes(2).toString('hex')}`);
  const before = await ann.player.getWallet();
  const pushed = new Promise<number>((resolve) => ann.on('walletChanged', (w) => resolve(Number(w.hard?.toString()))));
  const after = await ann.player.buyCurrency(
    new BuyRequest({ receiptId: `dev:gems_50:${randomBytes(6).toString('hex')}`, currency: Currency.HARD, amount: 50 }),
  );
  assert.equal(Number(after.hard?.toString()), Number(before.hard?.toString()) + 50);
  assert.equal(await pushed, Number(after.hard?.toString()));
});

test('a whole duel: matchmaking binds both to one instance; 1,000 calls stay there; the broker dies; the session resumes elsewhere with its binding; the duel ends persisted, paid and ranked', async () => {
  const a = await client(`al${randomBytes(2).toString('hex')}`);
  const b = await client(`bo${randomBytes(2).toString('hex')}`);
  const aStates: DuelState[] = [];
  const bStates: DuelState[] = [];
  a.on('duelUpdated', (s) => aStates.push(s));
  b.on('duelUpdated', (s) => bStates.push(s));
  const matched = new Promise<MatchTicket>((resolve) => a.on('matchFound', (t) => resolve(t)));
  const first = await a.duel.findMatch(new Int64(10));
  assert.equal(first.status, MatchStatus.QUEUED);
  const second = await b.duel.findMatch(new Int64(10));
  assert.equal(second.status, MatchStatus.MATCHED);
  const ticket = await matched;
  assert.equal(ticket.duelId, second.duelId);
  const duelId = second.duelId as string;

  const seen = new Set<string>();
  for (let i = 0; i < 1000; i++) seen.add((await a.duel.ping()).instance as string);
  assert.equal(seen.size, 1, `a's duel calls moved between ${[...seen].join(', ')}`);
  const owner = [...seen][0] as string;
  assert.equal((await b.duel.ping()).instance, owner, 'both duelists are on the same instance');

  // Kill the broker a is connected to: the SDK reconnects to the other one and resumes.
  const brokerOfA = Object.values(procs).find((p) => p.ready.tcp === a.endpoint);
  assert.ok(brokerOfA, `a broker process serves ${a.endpoint}`);
  const resumed = new Promise<void>((resolve) => a.on('reconnected', () => resolve()));
  const sessionBefore = a.session?.sessionId;
  await kill(brokerOfA);
  await resumed;
  assert.notEqual(a.endpoint, brokerOfA.ready.tcp);
  assert.equal(a.session?.sessionId, sessionBefore, 'same session after resume');
  assert.equal((await a.duel.ping()).instance, owner, 'binding kept across brokers');
  assert.equal((await a.duel.getDuel(duelId)).phase, DuelPhase.ACTIVE);

  const walletBefore = Number((await a.player.getWallet()).soft?.toString());
  await a.duel.act(new DuelActRequest({ duelId, action: DuelAction.DRAW }));
  await b.duel.act(new DuelActRequest({ duelId, action: DuelAction.DRAW }));
  const end = await a.duel.act(new DuelActRequest({ duelId, action: DuelAction.SHOOT }));
  assert.equal(end.phase, DuelPhase.FINISHED);
  assert.equal(end.winner, a.session?.userId);
  await until(
    'both got the final state pushed',
    () =>
      aStates.some((s) => s.phase === DuelPhase.FINISHED) && bStates.some((s) => s.phase === DuelPhase.FINISHED)
        ? true
        : undefined,
    5000,
  );

  const db = new pg.Client({ connectionString: env.NOON_PG_URL });
  await db.connect();
  try {
    const row = await until(
      'duel result persisted',
      async () =>
        (await db.query('SELECT winner FROM duels WHERE id = $1', [duelId])).rows[0] as { winner: string } | undefined,
      5000,
    );
    assert.equal(row.winner, a.session?.userId);
  } finally {
    await db.end();
  }
  await until(
    'prize granted',
    async () => (Number((await a.player.getWallet()).soft?.toString()) === walletBefore + 20 ? true : undefined),
    5000,
  );
  const top = await until(
    'leaderboard updated',
    async () => {
      const t = await b.leaderboard.top('duels', 10);
      return t.some((e) => e.userId === a.session?.userId) ? t : undefined;
    },
    5000,
  );
  const entry = top.find((e) => e.userId === a.session?.userId);
  assert.equal(Number(entry?.score?.toString()), 1);
  assert.equal(entry?.username, a.session?.username, 'the board shows the winner by name');
});

test('two chat members on two different brokers receive the same messages in the same order', async () => {
  const brokers = Object.values(procs).filter(
    (p) => p.ready.tcp && p.proc.exitCode === null && p.proc.signalCode === null,
  );
  assert.ok(brokers.length >= 1);
  const room = `room-${randomBytes(3).toString('hex')}`;
  const members: NoonClient[] = [];
  for (let i = 0; i < 2; i++) {
    const c = await NoonClient.connect({ tcp: String(brokers[i % brokers.length]?.ready.tcp) });
    clients.push(c);
    await c.sso.register(`chat${i}${randomBytes(2).toString('hex')}`, 'password-chat');
    members.push(c);
  }
  const got: ChatMessage[][] = members.map(() => []);
  members.forEach((m, i) => m.on('chatMessage', (msg) => got[i]?.push(msg)));
  for (const m of members) await m.chat.join(room);
  const N = 40;
  await Promise.all(Array.from({ length: N }, (_, i) => members[i % 2]!.chat.say(room, `hello ${i}`)));
  await until('every member got every message', () => (got.every((g) => g.length >= N) ? true : undefined), 10_000);
  const seqs = got.map((g) => g.map((m) => Number(m.seq?.toString())));
  assert.deepEqual(seqs[0], seqs[1]);
  assert.deepEqual(
    seqs[0],
    Array.from({ length: N }, (_, i) => i + 1),
  );
  const names = new Set(members.map((m) => m.session?.username));
  for (const msg of got[0] ?? [])
    assert.ok(names.has(msg.username), `message ${msg.seq?.toString()} is signed ${msg.username}`);
});
