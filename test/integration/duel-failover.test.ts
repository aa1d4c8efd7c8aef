/**
 * Duels and the matchmaking queue outlive their duel instance: separate processes (`noon start`
 * yellow, sso, player, leaderboard, two duel instances, a broker) on real Postgres and Redis, the
 * players real SDK clients. (a) The duel's holder is drained by an operator, then stopped: the duel
 * continues to its end on the other instance and each player gets every state push, once. (b) The
 * holder is SIGKILLed with a move in flight: that move's outcome may be unknown, the duel still
 * ends on the other instance. (c) A player waiting in the matchmaker's queue when the matchmaker
 * is SIGKILLed is paired by the other instance. Every duel pays exactly once (exact wallets and
 * ledger rows), and no player is told its state was lost.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import Int64 from 'node-int64';
import pg from 'pg';
import { DuelAction, DuelActRequest, DuelPhase, MatchStatus, type DuelState } from '../../shared/protocol';
import { loadConfig } from '../../shared/config';
import { rendezvous } from '../../shared/hashing';
import { silentLogger } from '../../shared/log';
import { YellowClient } from '../../yellow/client';
import type { Directory } from '../../yellow/directory';
import { NoonClient } from '../../client';
import { MATCHMAKING_KEY } from '../../services/duel';
import { kill, killAll, spawnNoon, type Child } from '../support/yellow-harness';
import { until } from '../support/wait';
import { pgUrlFor, redisUrlFor } from '../support/services';
import { createClusterData, dropClusterData } from '../support/cluster-data';

const REDIS_DB = 13;
const HEARTBEAT_MS = 200;
const STAKE = 100;
const dbName = `noon_duelfo_${randomBytes(4).toString('hex')}`;
let env: Record<string, string>;
let yellow: Child;
let broker: Child;
const others: Child[] = [];
/** duel processes by instance id */
const duels = new Map<string, Child>();
const downs: string[] = [];
let watcher: YellowClient;
let directory: Directory;
let sql: pg.Client;
const clients: NoonClient[] = [];

interface Player {
  name: string;
  userId: string;
  client: NoonClient;
  states: DuelState[];
  matched: string[];
  lost: number;
}

async function spawnDuel(): Promise<string> {
  const c = await spawnNoon(['start', 'duel'], env, 60_000);
  const id = String(c.ready.instanceId);
  duels.set(id, c);
  await until(`Yellow lists ${id}`, () => liveDuels().includes(id), 30_000);
  return id;
}

function liveDuels(): string[] {
  return directory.instances({ role: 'duel' }).map((r) => r.instanceId);
}

async function player(prefix: string): Promise<Player> {
  const name = `${prefix}${randomBytes(3).toString('hex')}`;
  const client = await NoonClient.connect({ tcp: String(broker.ready.tcp) }, { callTimeoutMs: 8000 });
  clients.push(client);
  const p: Player = { name, userId: '', client, states: [], matched: [], lost: 0 };
  client.on('duelUpdated', (s) => p.states.push(s));
  client.on('matchFound', (t) => p.matched.push(t.duelId ?? ''));
  client.on('stateLost', () => p.lost++);
  p.userId = (await client.sso.register(name, `password-${name}`)).userId ?? '';
  return p;
}

async function soft(p: Player): Promise<number> {
  const r = await sql.query<{ soft: string }>('SELECT soft::text AS soft FROM players WHERE user_id = $1', [p.userId]);
  return Number(r.rows[0]?.soft);
}

async function holderOf(duelId: string): Promise<string | null> {
  const r = await sql.query<{ holder: string | null }>('SELECT holder FROM duel_games WHERE id = $1', [duelId]);
  return r.rows[0]?.holder ?? null;
}

async function match(a: Player, b: Player): Promise<string> {
  assert.equal((await a.client.duel.findMatch(new Int64(STAKE))).status, MatchStatus.QUEUED);
  const t = await b.client.duel.findMatch(new Int64(STAKE));
  assert.equal(t.status, MatchStatus.MATCHED);
  assert.equal(t.opponent, a.userId);
  const duelId = t.duelId ?? '';
  await until(`${a.name} gets matchFound`, () => a.matched.includes(duelId));
  return duelId;
}

const act = (p: Player, duelId: string, action: DuelAction): Promise<DuelState> =>
  p.client.duel.act(new DuelActRequest({ duelId, action }));

/**
 * A move sent until it is known to have landed: an outcome-unknown failure (the instance died
 * under it) is sent again, and a CONFLICT saying it was already made means the first one landed.
 */
async function actSurely(p: Player, duelId: string, action: DuelAction, unknown: string[]): Promise<void> {
  await until(
    `${p.name}'s ${action === DuelAction.DRAW ? 'draw' : 'shot'} lands`,
    async () => {
      try {
        await act(p, duelId, action);
        return true;
      } catch (err) {
        const msg = (err as Error).message;
        if (/already drawn|the duel is over/.test(msg)) return true;
        unknown.push(msg);
        return undefined;
      }
    },
    30_000,
    100,
  );
}

/** Each distinct state a player was pushed, as "phase:drawn" (drawn players in the duel's order). */
function story(p: Player, duelId: string): string[] {
  return p.states
    .filter((s) => s.duelId === duelId)
    .map((s) => {
      const flags = s.drawn instanceof Map ? [...s.drawn.values()] : Object.values(s.drawn ?? {});
      const drawn = flags.filter((d) => d === true).length;
      return `${s.phase === DuelPhase.FINISHED ? `finished:${s.winner === '' ? 'none' : 'won'}` : 'active'}:${drawn}`;
    });
}

/** The duel settled, paid once to the winner, and both wallets exact. */
async function paidOnce(duelId: string, winner: Player, loser: Player, before: [number, number]): Promise<void> {
  await until(
    `settlement of ${duelId} done`,
    async () => {
      const r = await sql.query<{ state: string }>('SELECT state FROM duel_settlements WHERE duel_id = $1', [duelId]);
      return r.rows[0]?.state === 'done' ? true : undefined;
    },
    30_000,
  );
  assert.equal(await soft(winner), before[0] + STAKE, 'winner = before + S');
  assert.equal(await soft(loser), before[1] - STAKE, 'loser = before − S');
  const ledger = await sql.query<{ user_id: string; delta: string; kind: string }>(
    `SELECT user_id, delta::text AS delta, split_part(idem_key, ':', 3) AS kind FROM player_ledger
      WHERE idem_key LIKE 'duel:%' AND split_part(idem_key, ':', 2) = $1 ORDER BY id`,
    [duelId],
  );
  assert.deepEqual(
    ledger.rows.map((l) => [l.user_id === winner.userId ? 'winner' : 'loser', l.delta, l.kind]).sort(),
    [
      ['loser', String(-STAKE), 'stake'],
      ['winner', String(-STAKE), 'stake'],
      ['winner', String(2 * STAKE), 'payout'],
    ].sort(),
    'both stakes taken once, the escrow paid once',
  );
}

before(async () => {
  await createClusterData(dbName, REDIS_DB);
  env = {
    NOON_PG_URL: pgUrlFor(dbName),
    NOON_REDIS: redisUrlFor(REDIS_DB),
    NOON_HEARTBEAT_MS: String(HEARTBEAT_MS),
    NOON_SCRYPT_N: '1024',
    NOON_CALLS_PER_SECOND: '5000',
    NOON_LOG_LEVEL: 'warn',
    NOON_YELLOW_PORT: '0',
    NOON_BROKER_PORT: '0',
    NOON_BROKER_WS_PORT: '0',
    NOON_METRICS_PORT: '0',
    NOON_DATA_DIR: `/tmp/${dbName}`,
    // the test's own Yellow watcher (drain, down events) speaks plaintext
    NOON_INTERNAL_PLAINTEXT: '1',
    // long enough for the test's moves; a silent player still times out
    NOON_DUEL_TURN_MS: '15000',
  };
  yellow = await spawnNoon(['start', 'yellow'], env);
  env.NOON_YELLOW = String(yellow.ready.router);
  watcher = YellowClient.fromConfig(
    loadConfig({ yellow: [env.NOON_YELLOW], heartbeatMs: HEARTBEAT_MS }, {}),
    silentLogger(),
  );
  directory = await watcher.watch();
  directory.on('down', ({ instanceId }) => downs.push(instanceId));
  others.push(
    ...(await Promise.all(['sso', 'player', 'leaderboard'].map((r) => spawnNoon(['start', r], env, 60_000)))),
  );
  await Promise.all([spawnDuel(), spawnDuel()]);
  broker = await spawnNoon(['start', 'broker'], env, 60_000);
  sql = new pg.Client({ connectionString: pgUrlFor(dbName) });
  await sql.connect();
  await until(
    'the broker routes to every service',
    async () => {
      const c = await NoonClient.connect({ tcp: String(broker.ready.tcp) }, { reconnect: false });
      try {
        return (await c.duel.ping()) && (await c.player.ping()) && (await c.sso.ping()) && (await c.leaderboard.ping())
          ? true
          : undefined;
      } catch {
        return undefined;
      } finally {
        c.close();
      }
    },
    30_000,
  );
});

after(async () => {
  for (const c of clients) c.close();
  await sql?.end().catch(() => undefined);
  await watcher?.stop();
  const all = [broker, ...duels.values(), ...others, yellow].filter((c) => c !== undefined);
  const deadline = setTimeout(() => killAll(), 10_000);
  await Promise.all(all.map((c) => kill(c, 'SIGTERM')));
  clearTimeout(deadline);
  await dropClusterData(dbName, REDIS_DB);
});

test('(a) the holder is drained, then stopped, mid-duel: the duel ends on the other instance, every push received once, paid once', async () => {
  const ann = await player('ann');
  const bob = await player('bob');
  const before: [number, number] = [await soft(bob), await soft(ann)];
  const duelId = await match(ann, bob);
  const holder = await holderOf(duelId);
  assert.ok(holder !== null && duels.has(holder), 'a live duel instance holds the duel');
  const other = [...duels.keys()].find((id) => id !== holder) as string;
  assert.equal((await act(ann, duelId, DuelAction.DRAW)).phase, DuelPhase.ACTIVE);

  // `noon yellow drain <holder>`: the holder lets the duel go, the other instance takes it.
  await watcher.drain(holder, true);
  await until('the drained holder released the duel', async () => (await holderOf(duelId)) !== holder, 15_000);
  await kill(duels.get(holder) as Child, 'SIGTERM');
  duels.delete(holder);
  // a fresh second instance for the next tests; it must not take this duel from its new holder
  await spawnDuel();

  assert.equal((await act(bob, duelId, DuelAction.DRAW)).phase, DuelPhase.ACTIVE);
  const end = await act(bob, duelId, DuelAction.SHOOT);
  assert.deepEqual([end.phase, end.winner, end.reason], [DuelPhase.FINISHED, bob.userId, 'shot']);
  assert.equal(await holderOf(duelId), other, 'ended by the instance that took it over');
  const expected = ['active:0', 'active:1', 'active:2', 'finished:won:2'];
  for (const p of [ann, bob])
    await until(`${p.name} has every state`, () => story(p, duelId).length >= expected.length, 10_000);
  assert.deepEqual(story(ann, duelId), expected, 'ann got every push, once');
  assert.deepEqual(story(bob, duelId), expected, 'bob got every push, once');
  assert.deepEqual([ann.lost, bob.lost], [0, 0], 'nobody was told its state was lost');
  await paidOnce(duelId, bob, ann, before);
});

test('(b) the holder is SIGKILLed with a move in flight: the duel ends on the other instance, paid once', async () => {
  const cat = await player('cat');
  const dan = await player('dan');
  const before: [number, number] = [await soft(cat), await soft(dan)];
  const duelId = await match(cat, dan);
  const holder = await holderOf(duelId);
  assert.ok(holder !== null && duels.has(holder));
  const other = [...duels.keys()].find((id) => id !== holder) as string;
  await act(cat, duelId, DuelAction.DRAW);

  const inFlight = act(dan, duelId, DuelAction.DRAW).then(
    () => 'ok',
    (err: Error) => err.message,
  );
  await kill(duels.get(holder) as Child, 'SIGKILL');
  duels.delete(holder);
  const replacement = spawnDuel();
  const unknown: string[] = [];
  const first = await inFlight;
  if (first !== 'ok') unknown.push(first);
  await actSurely(dan, duelId, DuelAction.DRAW, unknown);
  await actSurely(cat, duelId, DuelAction.SHOOT, unknown);
  for (const msg of unknown)
    assert.doesNotMatch(msg, /STATE_LOST|not a player|NOT_FOUND/, 'only outcome-unknown failures');
  const final = await cat.client.duel.getDuel(duelId);
  assert.deepEqual([final.phase, final.winner, final.reason], [DuelPhase.FINISHED, cat.userId, 'shot']);
  assert.equal(await holderOf(duelId), other, 'ended by the instance that took it over');
  for (const p of [cat, dan])
    await until(`${p.name} is pushed the end`, () => story(p, duelId).includes('finished:won:2'), 10_000);
  assert.deepEqual([cat.lost, dan.lost], [0, 0], 'nobody was told its state was lost');
  await paidOnce(duelId, cat, dan, before);
  await replacement;
});

test('(c) a player waiting in the queue when the matchmaker is SIGKILLed is paired by the other instance', async () => {
  await until('two duel instances listed', () => liveDuels().length === 2, 30_000);
  const eve = await player('eve');
  const fay = await player('fay');
  const before: [number, number] = [await soft(eve), await soft(fay)];
  const matchmaker = rendezvous(MATCHMAKING_KEY, liveDuels()) as string;
  assert.equal((await eve.client.duel.findMatch(new Int64(STAKE))).status, MatchStatus.QUEUED);

  await kill(duels.get(matchmaker) as Child, 'SIGKILL');
  duels.delete(matchmaker);
  await until('Yellow reports the matchmaker down', () => downs.includes(matchmaker), 15_000);
  const t = await fay.client.duel.findMatch(new Int64(STAKE));
  assert.deepEqual([t.status, t.opponent], [MatchStatus.MATCHED, eve.userId], 'eve was still waiting');
  const duelId = t.duelId ?? '';
  await until('eve gets matchFound', () => eve.matched.includes(duelId));
  await act(eve, duelId, DuelAction.DRAW);
  await act(fay, duelId, DuelAction.DRAW);
  const end = await act(eve, duelId, DuelAction.SHOOT);
  assert.deepEqual([end.phase, end.winner], [DuelPhase.FINISHED, eve.userId]);
  assert.equal(eve.lost, 0, 'the waiting player was not told its state was lost');
  await paidOnce(duelId, eve, fay, before);
});
