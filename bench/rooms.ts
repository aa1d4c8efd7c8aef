/**
 * Rooms (docs/rooms.md), each number beside its baseline from the same run:
 *
 * - owner throughput: `Chat:say` into one room through the real chat service (a child process,
 *   real Postgres and Redis: fenced batch insert, recent list, publish) from ServiceCaller at 256
 *   and 1,024 in flight, each say with a request id as the SDK's, vs `Chat:ping` on the same
 *   instance and path (the RPC ceiling, no persistence);
 * - fan-out: 1,000 and 4,000 members of one room on one broker (a child process), members in
 *   receiver processes; deliveries per second = room messages received by all members per
 *   second. Baseline: a bare TCP fan-out process (procs/fanout.ts) writing the same push bytes to
 *   the same receivers. See bench/rooms-fanout.ts.
 *
 * - hot room: QUIET_ROOMS quiet rooms on the same owner, each sent QUIET_RATE says per second
 *   (open loop: a say is sent on schedule whether or not the last one answered); say → reply
 *   latency alone (the baseline), then the same while one hot room on that owner is flooded by
 *   another process (procs/room-flood.ts) with HOT_IN_FLIGHT says in flight, ten times the room
 *   queue the owner runs with (ROOM_QUEUE), so most of them are answered BUSY.
 *
 * Postgres: a database of its own, dropped after. Redis: logical database 12, keys of this run.
 * BENCH_ROOMS=owner,hot,fanout picks parts (default all).
 *
 *   node --import tsx bench/rooms.ts
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import * as hdr from 'hdr-histogram-js';
import { Client } from 'pg';
import { Redis } from 'ioredis';
import { silentLogger } from '../shared/log';
import { ServiceCaller } from '../rpc/caller';
import { serviceClients } from '../rpc/clients';
import { Links } from '../rpc/links';
import { YellowClient } from '../yellow/client';
import { closedLoop, sleep, timings } from './lib/load';
import { cpuMicros, spawnReady, stopChild, waitFor, type Child } from './lib/procs';
import { progress } from './lib/table';
import { pairTable, type Pair } from './lib/pair-table';
import { runAsMain } from './lib/main';
import { fanoutRows, fanoutTable, type FanoutRow } from './rooms-fanout';

const PG_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/12';
const HEARTBEAT_MS = '1000';
/**
 * says in flight in the owner part, one row each (BENCH_OWNER_IN_FLIGHT, comma-separated); the
 * room queue holds them all. At 256 the owner waits for this closed loop's next says between its
 * batches; 1024 keeps it busy, which is its capacity.
 */
const OWNER_IN_FLIGHT = (process.env.BENCH_OWNER_IN_FLIGHT ?? '256,1024').split(',').map(Number);
/** the owner's room queue in this bench: the owner part keeps fewer than this in flight */
const ROOM_QUEUE = 256;
const QUIET_ROOMS = 8;
const QUIET_RATE = 50;
const HOT_IN_FLIGHT = Number(process.env.BENCH_HOT_IN_FLIGHT ?? 10 * ROOM_QUEUE);
const HOT_ROUNDS = Number(process.env.BENCH_HOT_ROUNDS ?? 3);
/** NOON_CHAT_ROOM_RATE of the hot part (BENCH_ROOM_RATE; unset = the option's default) */
const HOT_ROOM_RATE = process.env.BENCH_ROOM_RATE;
/** NOON_CHAT_ROOM_RATE where one room is meant to take all of its owner (owner and fan-out parts) */
const UNCAPPED = '1000000';
/** BENCH_FLOOD_CPUS: a taskset CPU list the flood process is pinned to (its senders modelled as
 * being elsewhere, taking no more than those cores); unset = it runs on any core */
const FLOOD_CPUS = process.env.BENCH_FLOOD_CPUS;
/**
 * BENCH_FLOOD_RATE: the hot room is sent this many says per second, open loop (the issue's "10×
 * what its owner can take": 5000 at the default room rate of 500/s); unset = HOT_IN_FLIGHT says in
 * flight, each refusal retried at once (as fast as the owner turns refusals around)
 */
const FLOOD_RATE = process.env.BENCH_FLOOD_RATE;
const PARTS = new Set((process.env.BENCH_ROOMS ?? 'owner,hot,fanout').split(','));

interface Latency {
  label: string;
  sent: number;
  answered: number;
  errors: number;
  firstError?: string;
  p50Us: number;
  p99Us: number;
  maxUs: number;
}

/** Say → reply latencies of one variant, pooled over the rounds it ran in. */
class QuietStats {
  readonly hist = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120_000_000,
    numberOfSignificantValueDigits: 3,
  });
  sent = 0;
  answered = 0;
  errors = 0;
  firstError?: string;

  constructor(readonly label: string) {}

  result(): Latency {
    const out: Latency = {
      label: this.label,
      sent: this.sent,
      answered: this.answered,
      errors: this.errors,
      p50Us: this.hist.getValueAtPercentile(50),
      p99Us: this.hist.getValueAtPercentile(99),
      maxUs: this.hist.maxValue,
      ...(this.firstError !== undefined ? { firstError: this.firstError } : {}),
    };
    this.hist.destroy();
    return out;
  }
}

/**
 * `rooms` rooms, each sent `ratePerRoom` says per second on a fixed schedule (not waiting for
 * answers, so a slow owner cannot slow the offered load down); say → reply latency of the
 * answers to the says sent within the measured window goes into `stats`.
 */
async function quietLoad(
  stats: QuietStats,
  say: (room: string) => Promise<unknown>,
  rooms: string[],
  ratePerRoom: number,
  warmupMs: number,
  durationMs: number,
): Promise<void> {
  const periodMs = 1000 / ratePerRoom;
  const pending: Promise<void>[] = [];
  const start = performance.now();
  const measureFrom = start + warmupMs;
  const end = measureFrom + durationMs;
  for (let tick = 0; ; tick++) {
    const due = start + tick * periodMs;
    if (due >= end) break;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const measured = due >= measureFrom;
    for (const room of rooms) {
      const t0 = performance.now();
      if (measured) stats.sent++;
      pending.push(
        say(room).then(
          () => {
            if (!measured) return;
            stats.answered++;
            stats.hist.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
          },
          (err: unknown) => {
            if (!measured) return;
            stats.errors++;
            stats.firstError ??= err instanceof Error ? err.message : String(err);
          },
        ),
      );
    }
  }
  await Promise.all(pending);
}

interface FloodCounts {
  ok: number;
  busy: number;
  other: number;
  /** open loop only: says not sent because FLOOD_IN_FLIGHT were unanswered */
  skipped?: number;
  atMs: number;
}

/** Asks the flood process for its counts (it prints them on SIGUSR2), one answer per ask. */
function floodCounter(flood: Child): () => Promise<FloodCounts> {
  const waiting: Array<(c: FloodCounts) => void> = [];
  createInterface({ input: flood.proc.stdout! }).on('line', (line) => {
    const v = JSON.parse(line) as Partial<FloodCounts>;
    if (typeof v.busy === 'number') waiting.shift()?.(v as FloodCounts);
  });
  return () =>
    new Promise((resolve) => {
      waiting.push(resolve);
      flood.proc.kill('SIGUSR2');
    });
}

async function admin(sql: string): Promise<void> {
  const c = new Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

function dbUrl(name: string): string {
  const u = new URL(PG_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

interface HotRoom {
  alone: Latency;
  beside: Latency;
  /** the hot room's says per second stored, and answered BUSY, during the window */
  hotAccepted: number;
  hotBusy: number;
  hotOther: number;
  /** says the open-loop flood could not send (too many unanswered) */
  hotSkipped: number;
  /** the chat process's CPU over the window, in cores */
  chatCpu: number;
}

function hotTable(h: HotRoom): string {
  const ms = (us: number): string => `${(us / 1000).toFixed(1)} ms`;
  const row = (l: Latency, vs: string): string =>
    `| ${l.label} | ${l.sent.toLocaleString('en-US')} | ${l.answered.toLocaleString('en-US')} | ${l.errors} | ${ms(l.p50Us)} | ${ms(l.p99Us)} | ${ms(l.maxUs)} | ${vs} |`;
  const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}x`;
  return [
    `Hot room: ${QUIET_ROOMS} quiet rooms × ${QUIET_RATE} says/s (open loop) on one owner, say → reply latency, ${HOT_ROUNDS} rounds of ${timings().durationMs / 1000} s each way, alternating, pooled; beside them one hot room ${FLOOD_RATE === undefined ? `with ${HOT_IN_FLIGHT} says in flight, each BUSY retried at once,` : `sent ${FLOOD_RATE} says/s open loop`} from another process (room queue ${ROOM_QUEUE}, room rate ${HOT_ROOM_RATE ?? 'the default'}, flood ${FLOOD_CPUS ? `pinned to CPU ${FLOOD_CPUS}` : 'on any core'}). During the flood the hot room had ${Math.round(h.hotAccepted).toLocaleString('en-US')} says/s stored and ${Math.round(h.hotBusy).toLocaleString('en-US')} says/s answered BUSY (offered ${((h.hotAccepted + h.hotBusy) / h.hotAccepted).toFixed(1)}x what it stored; ${h.hotOther} other errors; ${h.hotSkipped} not sent); chat process CPU ${h.chatCpu.toFixed(2)} cores.`,
    '',
    '| quiet rooms | says sent | answered | errors | p50 | p99 | max | p50 / p99 vs alone |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    row(h.alone, 'baseline'),
    row(h.beside, `**${ratio(h.beside.p50Us, h.alone.p50Us)} / ${ratio(h.beside.p99Us, h.alone.p99Us)}**`),
  ].join('\n');
}

export async function runRooms(): Promise<string> {
  const { warmupMs, durationMs } = timings();
  const run = `${process.pid.toString(36)}${randomBytes(3).toString('hex')}`;
  const dbName = `bench_rooms_${run}`;
  const children: Child[] = [];
  const pairs: Pair[] = [];
  let yellowClient: YellowClient | undefined;
  let links: Links | undefined;
  let hot: HotRoom | undefined;
  let fanout: FanoutRow[] | undefined;
  await admin(`CREATE DATABASE ${dbName}`);
  try {
    const yellow = await spawnReady(
      'yellow',
      'test/support/yellow-proc.ts',
      {
        NOON_YELLOW_PORT: '0',
        NOON_HEARTBEAT_MS: HEARTBEAT_MS,
      },
      60_000,
    );
    children.push(yellow);
    const env = {
      NOON_YELLOW: String(yellow.ready.router),
      NOON_HEARTBEAT_MS: HEARTBEAT_MS,
      NOON_PG_URL: dbUrl(dbName),
      NOON_REDIS: REDIS_URL,
    };
    // --- the chat (+ fake sso) process: one at a time, since two would split the rooms between them
    const logger = silentLogger();
    yellowClient = new YellowClient({ endpoints: [String(yellow.ready.router)], heartbeatMs: 1000, logger });
    const directory = await yellowClient.watch();
    const chatListed = (): number => directory.instances({ thriftService: 'Chat' }).length;
    let services: Child | undefined;
    /** (Re)starts the services process with `roomRate` as NOON_CHAT_ROOM_RATE (undefined = the default). */
    const startServices = async (roomRate: string | undefined, queue = ROOM_QUEUE): Promise<Child> => {
      if (services) {
        await stopChild(services);
        await waitFor('the old chat instance gone from the directory', async () =>
          chatListed() === 0 ? true : undefined,
        );
      }
      services = await spawnReady(
        'rooms-services',
        'bench/procs/rooms-services.ts',
        {
          ...env,
          BENCH_FAKE_SSO: '1',
          NOON_CHAT_ROOM_QUEUE: String(queue),
          ...(roomRate !== undefined ? { NOON_CHAT_ROOM_RATE: roomRate } : {}),
        },
        60_000,
      );
      children.push(services);
      await waitFor('the chat instance in the directory', async () => (chatListed() > 0 ? true : undefined));
      return services;
    };
    const identity = `bench-${process.pid}`;
    links = new Links({ identity, logger, maxQueued: 100_000, maxPayload: 4 << 20 });
    const caller = new ServiceCaller(directory, links);
    // Every call carries a request id, as a logged-in SDK's do: the say pays for the reply cache
    // and for its row's key (docs/retries.md), as in production.
    let calls = 0;
    const clients = serviceClients(caller, () => ({
      sessionId: 's-bench',
      userId: 'u-bench',
      username: 'bench',
      traceId: 'bench-trace-0001',
      via: identity,
      deadline: Date.now() + 10_000,
      clientRequestId: `${identity.slice(-12).padStart(12, '0')}${(++calls).toString(16).padStart(8, '0')}`,
    }));
    const room = `bench-${run}`;
    if (PARTS.has('owner')) {
      for (const inFlight of OWNER_IN_FLIGHT) {
        // One room at the owner's full speed: the per-room rate (docs/rooms.md) out of the way.
        const services = await startServices(UNCAPPED, Math.max(ROOM_QUEUE, inFlight));
        await clients.chat.say(room, 'first');
        const cpu = { client: process.pid, chat: services.pid };
        const say = await closedLoop({
          inFlight,
          warmupMs,
          durationMs,
          cpu,
          call: async () => void (await clients.chat.say(room, 'hello, room')),
        });
        progress('owner: Chat:say (stored)', say);
        const ping = await closedLoop({
          inFlight,
          warmupMs,
          durationMs,
          cpu,
          call: async () => void (await clients.chat.ping()),
        });
        progress('owner: Chat:ping', ping);
        pairs.push({
          noonLabel: 'Chat:say into one room (fenced batch insert + recent list + publish), msgs/s',
          rawLabel: 'baseline: Chat:ping, same instance and path, no persistence',
          noon: say,
          raw: ping,
        });
      }
    }

    // --- hot room: quiet rooms' latency alone, then beside a flooded room on the same owner
    if (PARTS.has('hot')) {
      const services = await startServices(HOT_ROOM_RATE);
      const quiet = Array.from({ length: QUIET_ROOMS }, (_, i) => `quiet${i}-${run}`);
      for (const q of quiet) await clients.chat.say(q, 'first');
      const sayQuiet = (q: string): Promise<unknown> => clients.chat.say(q, 'hello, quiet room');
      // Rounds alternate (alone, beside, alone, …) so that the machine's other load drifts over both alike.
      const alone = new QuietStats('quiet rooms alone');
      const beside = new QuietStats('quiet rooms beside the hot room');
      const floodTotal = { ok: 0, busy: 0, other: 0, skipped: 0, seconds: 0, cpuUs: 0 };
      for (let round = 0; round < HOT_ROUNDS; round++) {
        await quietLoad(alone, sayQuiet, quiet, QUIET_RATE, warmupMs, durationMs);
        // (a minute to start: on a loaded machine tsx alone can take more than the usual 20 s)
        const flood = await spawnReady(
          'room-flood',
          'bench/procs/room-flood.ts',
          {
            NOON_YELLOW: env.NOON_YELLOW,
            FLOOD_ROOM: `hot-${run}`,
            FLOOD_IN_FLIGHT: String(HOT_IN_FLIGHT),
            ...(FLOOD_RATE !== undefined && { FLOOD_RATE }),
          },
          60_000,
        );
        children.push(flood);
        if (FLOOD_CPUS) execFileSync('taskset', ['-a', '-pc', FLOOD_CPUS, String(flood.pid)], { stdio: 'ignore' });
        const floodCounts = floodCounter(flood);
        await sleep(warmupMs);
        const c0 = await floodCounts();
        const cpu0 = cpuMicros(services.pid);
        await quietLoad(beside, sayQuiet, quiet, QUIET_RATE, 0, durationMs);
        const c1 = await floodCounts();
        floodTotal.cpuUs += cpuMicros(services.pid) - cpu0;
        await stopChild(flood);
        floodTotal.ok += c1.ok - c0.ok;
        floodTotal.busy += c1.busy - c0.busy;
        floodTotal.other += c1.other - c0.other;
        floodTotal.skipped += (c1.skipped ?? 0) - (c0.skipped ?? 0);
        floodTotal.seconds += (c1.atMs - c0.atMs) / 1000;
        process.stderr.write(`  hot room: round ${round + 1} of ${HOT_ROUNDS} done\n`);
      }
      hot = {
        alone: alone.result(),
        beside: beside.result(),
        hotAccepted: floodTotal.ok / floodTotal.seconds,
        hotBusy: floodTotal.busy / floodTotal.seconds,
        hotOther: floodTotal.other,
        hotSkipped: floodTotal.skipped,
        chatCpu: floodTotal.cpuUs / (floodTotal.seconds * 1e6),
      };
      process.stderr.write(`${JSON.stringify(hot)}\n`);
    }

    // --- fan-out on one broker (bench/rooms-fanout.ts): one room sent as fast as its fan-out
    // allows, so the per-room rate out of the way
    if (PARTS.has('fanout')) {
      const services = await startServices(UNCAPPED);
      fanout = await fanoutRows({ env, run, chatPid: services.pid });
    }
  } finally {
    links?.close();
    await yellowClient?.stop();
    await Promise.all(children.reverse().map((c) => stopChild(c)));
    await admin(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis
      .connect()
      .then(async () => {
        const keys = await redis.keys(`*${run}*`);
        if (keys.length > 0) await redis.del(...keys);
      })
      .catch(() => undefined);
    redis.disconnect();
  }
  return [
    '### Rooms: one owner with persistence, fan-out on one broker',
    '',
    `Closed loops, ${timings().durationMs / 1000} s per row after ${timings().warmupMs / 1000} s warm-up. Owner: ${OWNER_IN_FLIGHT.join(' and ')} says in flight from this process (ServiceCaller) to one chat process on real Postgres and Redis.`,
    '',
    pairs.length > 0 ? pairTable(pairs) : '',
    ...(fanout ? ['', fanoutTable(fanout)] : []),
    ...(hot ? ['', hotTable(hot)] : []),
  ].join('\n');
}

if (require.main === module) runAsMain(runRooms);
