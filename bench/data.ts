/**
 * Issue "data": wallet operations and cached profile reads through the real player service (a
 * child process, real Postgres and Redis) over ZeroMQ, each next to a bare baseline in the same
 * run. The load generator (and the calling side: Yellow client, Links, ServiceCaller, generated
 * Player client) is this process.
 *
 * - wallet: buyCurrency / spendCurrency of 1 soft, alternating per user (so balances stay put),
 *   every call with a fresh receipt id / idempotency key, at 1 and 32 in flight over USERS users;
 *   baseline: a bare `pg` Pool doing BEGIN; SELECT … FOR UPDATE; UPDATE; INSERT ledger; COMMIT.
 *   The service sends one statement per call (the wallet function, services/player/wallet-op.ts).
 * - profile: getProfile with a warm cache (checked in Redis before and after), at 1 and 64 in
 *   flight; baseline: a bare ioredis GET of the same cache keys.
 *
 * Postgres: a throwaway schema, dropped after. Redis: a unique key prefix, deleted after.
 *
 *   node --import tsx bench/data.ts
 *   BENCH_PG_URL=postgres://… BENCH_REDIS_URL=redis://… (defaults: the machine's servers)
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { BuyRequest, Currency, SpendRequest, type Player } from '../shared/protocol';
import { silentLogger } from '../shared/log';
import { ServiceCaller } from '../rpc/caller';
import { serviceClients } from '../rpc/clients';
import { Links } from '../rpc/links';
import { YellowClient } from '../yellow/client';
import { deleteKeys, dropSchema, PgWalletLoop, PG_POOL_MAX, slotUsers } from './lib/data-baselines';
import { closedLoop, timings, type LoadResult } from './lib/load';
import { spawnReady, stopChild, waitFor, type Child } from './lib/procs';
import { progress } from './lib/table';
import { pairTable, type Pair } from './lib/pair-table';
import { runAsMain } from './lib/main';

const PG_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const USERS = 64;
const WALLET_LEVELS = [1, 32];
const READ_LEVELS = [1, 64];
const HEARTBEAT_MS = '250';
/** The player child migrates before its ready line: on a loaded shared host that can pass 20 s. */
const READY_MS = 60_000;

interface Setup {
  run: string;
  players: Player.Client[];
  userIds: string[];
  pgLoop: PgWalletLoop;
  redis: Redis;
  cacheKeys: string[];
  cpu: { client: number; player: number; redis: number };
}

export async function runData(): Promise<string> {
  const run = `${process.pid.toString(36)}${randomBytes(3).toString('hex')}`;
  const schema = `bench_data_${run}`;
  const prefix = `bench:data:${run}:`;
  const children: Child[] = [];
  let yellowClient: YellowClient | undefined;
  let links: Links | undefined;
  let pgLoop: PgWalletLoop | undefined;
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true });
  const pairs: Pair[] = [];
  const notes: string[] = [];
  let pushes = 0;
  try {
    await redis.connect();
    const yellow = await spawnReady(
      'yellow',
      'test/support/yellow-proc.ts',
      {
        NOON_YELLOW_PORT: '0',
        NOON_HEARTBEAT_MS: HEARTBEAT_MS,
      },
      READY_MS,
    );
    children.push(yellow);
    const player = await spawnReady(
      'player',
      'bench/procs/player.ts',
      {
        NOON_YELLOW: String(yellow.ready.router),
        NOON_HEARTBEAT_MS: HEARTBEAT_MS,
        NOON_PG_URL: PG_URL,
        NOON_REDIS: REDIS_URL,
        BENCH_SCHEMA: schema,
        BENCH_KEY_PREFIX: prefix,
        // buys are dev:bench_1:<unique> receipts worth 1 soft (unverified: a bench, never production)
        NOON_PURCHASE_VERIFIER: 'development',
        NOON_PURCHASE_CATALOG: JSON.stringify({ bench_1: { currency: 'soft', amount: 1 } }),
      },
      READY_MS,
    );
    children.push(player);

    const logger = silentLogger();
    yellowClient = new YellowClient({
      endpoints: [String(yellow.ready.router)],
      heartbeatMs: Number(HEARTBEAT_MS),
      logger,
    });
    const directory = await yellowClient.watch();
    const identity = `bench-${run}`;
    // walletChanged pushes come back to `via` (this DEALER), as they would reach a broker.
    links = new Links({ identity, logger, maxQueued: 100_000, maxPayload: 1 << 20, onPush: () => void pushes++ });
    const caller = new ServiceCaller(directory, links);
    const clientFor = (userId: string): Player.Client =>
      serviceClients(caller, () => ({
        sessionId: userId ? `s-${userId}` : '',
        userId,
        traceId: randomBytes(8).toString('hex'),
        via: identity,
        deadline: Date.now() + 5000,
      })).player;
    await waitFor('the Player instance in the directory', async () =>
      directory.instances({ thriftService: 'Player' }).length > 0 ? true : undefined,
    );

    const userIds = Array.from({ length: USERS }, (_, i) => `bench-${run}-u${i}`);
    const anonymous = clientFor('');
    for (const u of userIds) await anonymous.createProfile(u, u);
    pgLoop = new PgWalletLoop(PG_URL, schema);
    const s: Setup = {
      run,
      userIds,
      pgLoop,
      redis,
      players: userIds.map(clientFor),
      cacheKeys: userIds.map((u) => `${prefix}cache:player:profile:${u}`),
      cpu: { client: process.pid, player: player.pid, redis: await redisPid(redis) },
    };

    await measureWallet(s, pairs);
    const mismatches = await pgLoop.ledgerMismatches();
    if (mismatches > 0) throw new Error(`${mismatches} users' soft balance differs from their ledger`);
    notes.push(
      `ledger check: every user's soft balance = the sum of its ledger rows; ${pushes.toLocaleString('en-US')} walletChanged pushes received`,
    );
    await measureProfile(s, pairs);
  } finally {
    links?.close();
    await yellowClient?.stop();
    await pgLoop?.close();
    await Promise.all(children.reverse().map((c) => stopChild(c)));
    const cleaned = await cleanUp(schema, redis, prefix);
    notes.push(cleaned);
    redis.disconnect();
  }
  const { warmupMs, durationMs } = timings();
  return [
    '### Data: wallet ops and cached profile reads (player service, real Postgres + Redis)',
    '',
    `Closed loop, ${durationMs / 1000} s per row after ${warmupMs / 1000} s warm-up. Client = this process; server = the player service in a child process, calls over ZeroMQ (no broker). ` +
      `${USERS} users; slot s of N in flight owns users s, s+N, … so no two calls wait on one row lock. Wallet calls move 1 soft, alternating buy/spend per user, each with a new key. ` +
      `Both pg sides use a pool of ${PG_POOL_MAX}. CPU: Postgres backends not counted.`,
    '',
    'Per wallet call the service sends 1 statement: `SELECT … FROM player_wallet_apply_v1(…)` in autocommit, which locks the row, checks and records the idempotency key, claims the purchase (buy), ' +
      'updates the balance and writes the ledger row (test/integration/svc-player-wallet-op.test.ts counts it); plus a Redis DEL of the cached profile and a walletChanged push. ' +
      'The bare loop sends 5 (BEGIN; SELECT … FOR UPDATE; UPDATE; INSERT ledger; COMMIT) and records no idempotency key. A getProfile hit is one Redis GET plus the service call and JSON decode/encode.',
    '',
    pairTable(pairs),
    '',
    ...notes.map((n) => `_${n}_`),
  ].join('\n');
}

async function measureWallet(s: Setup, pairs: Pair[]): Promise<void> {
  const { warmupMs, durationMs } = timings();
  let seq = 0;
  const buyNext = new Array<boolean>(USERS).fill(true);
  for (const inFlight of WALLET_LEVELS) {
    const noonUser = slotUsers(USERS, inFlight);
    const noon = await closedLoop({
      inFlight,
      warmupMs,
      durationMs,
      cpu: { client: s.cpu.client, player: s.cpu.player },
      call: async (slot) => {
        const u = noonUser(slot);
        const client = s.players[u] as Player.Client;
        const n = seq++;
        const buy = buyNext[u] as boolean;
        buyNext[u] = !buy;
        if (buy)
          await client.buyCurrency(
            new BuyRequest({ receiptId: `dev:bench_1:${s.run}-r${n}`, currency: Currency.SOFT, amount: 1 }),
          );
        else
          await client.spendCurrency(
            new SpendRequest({ idempotencyKey: `${s.run}-k${n}`, currency: Currency.SOFT, amount: 1, reason: 'bench' }),
          );
      },
    });
    progress(`noon buy/spend @${inFlight}`, noon);
    const rawUser = slotUsers(USERS, inFlight);
    const raw = await closedLoop({
      inFlight,
      warmupMs,
      durationMs,
      cpu: { client: s.cpu.client },
      call: async (slot) => {
        const u = rawUser(slot);
        const buy = buyNext[u] as boolean;
        buyNext[u] = !buy;
        await s.pgLoop.apply(s.userIds[u] as string, buy ? 1 : -1, `pg-${s.run}-${seq++}`);
      },
    });
    progress(`bare pg tx @${inFlight}`, raw);
    pairs.push({
      noonLabel: 'noon: Player buyCurrency/spendCurrency',
      rawLabel: 'bare pg: BEGIN; FOR UPDATE; UPDATE; INSERT ledger; COMMIT',
      noon,
      raw,
    });
  }
}

async function measureProfile(s: Setup, pairs: Pair[]): Promise<void> {
  const { warmupMs, durationMs } = timings();
  // Twice: the first pass fills the cache (wallet calls invalidated it), the second must hit it.
  for (let pass = 0; pass < 2; pass++) await Promise.all(s.players.map((p) => p.getProfile()));
  await expectWarm(s, 'before the profile rows');
  for (const inFlight of READ_LEVELS) {
    const cpu = { client: s.cpu.client, player: s.cpu.player, redis: s.cpu.redis };
    const noonUser = slotUsers(USERS, inFlight);
    const noon: LoadResult = await closedLoop({
      inFlight,
      warmupMs,
      durationMs,
      cpu,
      call: async (slot) => void (await (s.players[noonUser(slot)] as Player.Client).getProfile()),
    });
    progress(`noon getProfile @${inFlight}`, noon);
    const rawUser = slotUsers(USERS, inFlight);
    const raw = await closedLoop({
      inFlight,
      warmupMs,
      durationMs,
      cpu: { client: s.cpu.client, redis: s.cpu.redis },
      call: async (slot) => {
        if ((await s.redis.get(s.cacheKeys[rawUser(slot)] as string)) === null) throw new Error('cache key missing');
      },
    });
    progress(`bare ioredis GET @${inFlight}`, raw);
    pairs.push({
      noonLabel: 'noon: Player getProfile (warm cache)',
      rawLabel: 'bare ioredis GET of the same keys',
      noon,
      raw,
    });
  }
  await expectWarm(s, 'after the profile rows');
}

async function expectWarm(s: Setup, when: string): Promise<void> {
  const present = await s.redis.exists(...s.cacheKeys);
  if (present !== s.cacheKeys.length)
    throw new Error(`only ${present} of ${s.cacheKeys.length} profiles cached ${when}`);
}

/** redis-server's pid (for its CPU from /proc); NaN when it is not on this machine's /proc. */
async function redisPid(redis: Redis): Promise<number> {
  const info = await redis.info('server');
  const m = /process_id:(\d+)/.exec(info);
  return m ? Number(m[1]) : NaN;
}

async function cleanUp(schema: string, redis: Redis, prefix: string): Promise<string> {
  const out: string[] = [];
  try {
    await dropSchema(PG_URL, schema);
    out.push(`schema ${schema} dropped`);
  } catch (err) {
    out.push(`schema ${schema} NOT dropped: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    out.push(`${await deleteKeys(redis, prefix)} Redis keys under ${prefix} deleted`);
  } catch (err) {
    out.push(`Redis keys under ${prefix} NOT deleted: ${err instanceof Error ? err.message : String(err)}`);
  }
  return `clean-up: ${out.join('; ')}`;
}

if (require.main === module) runAsMain(runData);
