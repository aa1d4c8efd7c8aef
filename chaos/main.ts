/**
 * `npm run chaos [-- --short | --only <name,…>] [--players N] [--json]`: a cluster of separate `noon start`
 * processes (2 Yellows, a BrokerList, 2 brokers, 2 of each built-in service) on a Postgres and two
 * Redis shards of the tool's own, a workload of simulated players, and the scenario table's faults
 * one after another. Prints Jepsen-style counts per scenario and a verdict; exits 1 when a target
 * is missed. docs/chaos.md explains the output.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { INFRA_KEY_ROLES } from '../shared/curve';
import { ensureKeys } from '../shared/keyring';
import { appliedWrites, moneyViolations, storedMessages } from './check';
import { countDuels, countRooms } from './games-tally';
import { ChaosCluster, type Slot } from './cluster';
import { runFault, type FaultOutcome } from './faults';
import { findPgBin, freePort, OwnPostgres, startRedisShards, type RedisShard } from './infra';
import { resultOf, scenarioText, verdictText, type ScenarioResult } from './report';
import { HOST_COUNT, hostIndexOf, placementText } from './hosts';
import { HostNetwork } from './netns';
import { CLUSTER_ROLES, CLUSTER_SIZE, scenarioTable, type ClusterRole, type Scenario } from './scenarios';
import { countScenario, troubledCalls } from './tally';
import { pause, pollUntil } from './wait';
import { YellowWatch } from './watch';
import { keyPrefix, Workload } from './workload';

const ROOT = join(__dirname, '..');
const HEARTBEAT_MS = 1000;
/** calls made after a fault's cluster is whole again still belong to it: late effects show here */
const SETTLE_MS = 2000;
/** after the load stops, how long members may take to receive their rooms' last messages */
const DELIVERY_DEADLINE_MS = 30_000;

export interface ChaosOptions {
  short: boolean;
  partition: boolean;
  players: number;
  json: boolean;
  /** run only these scenarios of the full table, by name (`--only`), in the table's order */
  only?: string[];
}

/** The partition is part of the full run, and of the short one only when asked (its hosts cost a slower start). */
export function parseArgs(argv: readonly string[]): ChaosOptions {
  const o: ChaosOptions = { short: false, partition: false, players: 12, json: false };
  let partition: boolean | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--short') o.short = true;
    else if (a === '--partition') partition = true;
    else if (a === '--no-partition') partition = false;
    else if (a === '--json') o.json = true;
    else if (a === '--only') {
      const names = (argv[++i] ?? '')
        .split(',')
        .map((n) => n.trim())
        .filter(Boolean);
      if (names.length === 0) throw new Error('--only: expected scenario names, comma-separated');
      o.only = names;
    } else if (a === '--players') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1 || n > 1000) throw new Error(`--players: expected 1..1000, got ${argv[i]}`);
      o.players = n;
    } else
      throw new Error(
        `unknown option ${JSON.stringify(a)}; options: --short, --only <name,…>, --players N, --partition, --no-partition, --json`,
      );
  }
  if (o.only && o.short) throw new Error('--only picks from the full table: leave out --short');
  // Picked scenarios run on the hosts when the partition is among them, or when asked (--partition).
  o.partition = partition ?? (o.only ? o.only.some((n) => n.startsWith('partition')) : !o.short);
  return o;
}

/** The scenarios a run drills: the table, or the ones `--only` names (each must be in the full table). */
export function scenariosOf(o: ChaosOptions): Scenario[] {
  if (!o.only) return scenarioTable({ short: o.short, partition: o.partition });
  const full = scenarioTable({ short: false, partition: true });
  const unknown = o.only.filter((n) => !full.some((s) => s.name === n));
  if (unknown.length > 0)
    throw new Error(
      `--only: no scenario ${unknown.map((n) => JSON.stringify(n)).join(', ')}; the scenarios: ${full.map((s) => s.name).join(', ')}`,
    );
  const picked = full.filter((s) => o.only?.includes(s.name));
  if (!o.partition && picked.some((s) => s.fault.kind === 'partition'))
    throw new Error('--only: the partition needs the hosts: leave out --no-partition');
  return picked;
}

const say = (line: string): void => void process.stderr.write(`${line}\n`);

/**
 * The Postgres the cluster uses: the tool's own when the binaries exist (listening on `host` as
 * well as loopback), else a fresh database on a shared server.
 */
async function openPostgres(
  tag: string,
  host: string,
): Promise<{ url: string; own?: OwnPostgres; drop(): Promise<void> }> {
  const bin = findPgBin();
  if (bin) {
    const own = await OwnPostgres.create(bin, host);
    say(`  postgres: own cluster on port ${own.port} (${own.dir})`);
    return { url: own.url(), own, drop: () => own.destroy() };
  }
  const shared = process.env.NOON_CHAOS_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const db = `noon_chaos_${tag}`;
  const admin = async (sql: string): Promise<void> => {
    const c = new pg.Client({ connectionString: shared });
    await c.connect();
    await c.query(sql).finally(() => c.end());
  };
  await admin(`CREATE DATABASE ${db}`);
  const u = new URL(shared);
  u.pathname = `/${db}`;
  say(`  postgres: no server binaries; database ${db} on the shared ${new URL(shared).host} (restart not drilled)`);
  return { url: u.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`) };
}

/**
 * The hosts for the partition drill: four network namespaces on a bridge (chaos/netns.ts), or
 * what is missing on this machine, which the drill then reports as its miss.
 */
async function openHosts(): Promise<{ net: HostNetwork } | { problem: string }> {
  if (!findPgBin())
    return {
      problem:
        'the partition drill needs PostgreSQL server binaries (/usr/lib/postgresql/*/bin) for a Postgres its hosts reach',
    };
  try {
    const net = await HostNetwork.create(
      { hosts: HOST_COUNT, prefix: 'noonch', subnet: '10.78.0' },
      'the partition drill',
    );
    say(`  hosts: ${net.hosts.length} network namespaces on ${net.rootAddress}/24`);
    return { net };
  } catch (err) {
    say(`  hosts: none, the cluster runs on 127.0.0.1: ${(err as Error).message}`);
    return { problem: (err as Error).message };
  }
}

export async function runChaos(o: ChaosOptions): Promise<{ results: ScenarioResult[]; ok: boolean; text: string }> {
  const tag = randomBytes(4).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'noon-chaos-'));
  const logDir = join(dir, 'logs');
  mkdirSync(logDir);
  const scenarios = scenariosOf(o);
  say(`chaos ${tag}: ${scenarios.length} scenarios, ${o.players} players; process logs in ${logDir}`);
  const cleanups: Array<() => Promise<unknown>> = [];
  try {
    const hosts = o.partition ? await openHosts() : { problem: 'not asked for' };
    if ('net' in hosts) {
      const net = hosts.net;
      cleanups.push(() => net.destroy());
    }
    const dataHost = 'net' in hosts ? hosts.net.rootAddress : '127.0.0.1';
    const hostOf = (slot: { role: ClusterRole; index: number }): string =>
      'net' in hosts ? (hosts.net.hosts[hostIndexOf(slot)]?.address ?? '') : '127.0.0.1';
    const data = await openPostgres(tag, dataHost);
    cleanups.push(() => data.drop());
    const shards: RedisShard[] = await startRedisShards(2, dataHost);
    cleanups.push(() => Promise.all(shards.map((s) => s.stop())));
    const yellowPorts = [await freePort(), await freePort()];
    const brokerlistPort = await freePort();
    const keyDir = join(dir, 'keys');
    ensureKeys(keyDir, [...new Set([...INFRA_KEY_ROLES, ...CLUSTER_ROLES])]);
    const yellow = yellowPorts.map((p, index) => `tcp://${hostOf({ role: 'yellow', index })}:${p}`);
    const env: Record<string, string> = {
      NOON_PG_URL: data.url,
      NOON_REDIS: shards.map((s) => s.url).join(','),
      NOON_YELLOW: yellow.join(','),
      NOON_HEARTBEAT_MS: String(HEARTBEAT_MS),
      NOON_INTERNAL_KEYS: keyDir,
      NOON_DATA_DIR: join(dir, 'data'),
      NOON_BROKER_PORT: '0',
      NOON_BROKER_WS_PORT: '0',
      NOON_METRICS_PORT: '0',
      NOON_LOGIN_ATTEMPTS_PER_IP: '100000',
      NOON_DRAIN_GRACE_MS: '5000',
      NOON_DEBUG_STALL_MS: '2000',
      NOON_LOG_LEVEL: process.env.CHAOS_LOG_LEVEL ?? 'warn',
      NOON_LOG_FORMAT: 'json',
    };
    const cluster = new ChaosCluster(ROOT, env, logDir, say);
    cleanups.push(() => cluster.close());
    const slots: Slot[] = CLUSTER_ROLES.flatMap((role) =>
      Array.from({ length: CLUSTER_SIZE[role] }, (_, index): Slot => {
        const own: Record<string, string> =
          role === 'yellow'
            ? { NOON_YELLOW_PORT: String(yellowPorts[index]) }
            : role === 'brokerlist'
              ? { NOON_BROKERLIST_PORT: String(brokerlistPort) }
              : {};
        if (!('net' in hosts)) return { role, index, env: own };
        // bound to its host's address only, and advertised with it
        const address = hostOf({ role, index });
        const host = hosts.net.hosts[hostIndexOf({ role, index })]!;
        const env = { ...own, NOON_HOST: address, NOON_BIND_HOST: address };
        return { role, index, env, wrap: hosts.net.wrap(host) };
      }),
    );
    if ('net' in hosts) for (const line of placementText(slots)) say(`  ${line}`);
    const t0 = Date.now();
    await Promise.all(slots.filter((s) => s.role === 'yellow').map((s) => cluster.start(s)));
    const watch = await YellowWatch.open(yellow, keyDir, HEARTBEAT_MS);
    cleanups.push(() => watch.stop());
    await Promise.all(slots.filter((s) => s.role !== 'yellow').map((s) => cluster.start(s)));
    await pollUntil('every process live in Yellow', 60_000, () =>
      watch.serving(cluster.all().map((p) => p.instanceId)),
    );
    say(`  cluster: ${slots.length} processes live in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    const workload = new Workload({
      brokerListUrl: `http://${hostOf({ role: 'brokerlist', index: 0 })}:${brokerlistPort}`,
      players: o.players,
      thinkMs: 20,
      tag,
    });
    cleanups.unshift(() => workload.stop().then(() => workload.close()));
    await workload.start();
    await pollUntil(
      'the workload warmed up',
      60_000,
      () => workload.records.filter((r) => r.outcome === 'ack').length >= 200,
    );

    const expectedDown = new Set<string>();
    const facts: Array<{ startedAt: number; endedAt: number; invariant: number; fault: FaultOutcome }> = [];
    for (const [i, s] of scenarios.entries()) {
      say(`  scenario ${i + 1}/${scenarios.length}: ${s.name}`);
      workload.scenario = i;
      const startedAt = Date.now();
      const fault = await runFault(
        {
          cluster,
          watch,
          pg: data.own,
          shards,
          heartbeatMs: HEARTBEAT_MS,
          hosts,
          expectDown: (id) => expectedDown.add(id),
        },
        s.fault,
      ).catch((err: Error): FaultOutcome => ({ notes: [], misses: [`the fault failed: ${err.message}`] }));
      await pollUntil(
        'the cluster whole again',
        90_000,
        () => cluster.all().every((p) => p.alive) && watch.serving(cluster.all().map((p) => p.instanceId)),
      ).catch((err: Error) => fault.misses.push(err.message));
      await pause(SETTLE_MS);
      const money = await moneyViolations(data.url);
      if (money.violations > 0) fault.notes.push(...money.check.violations.slice(0, 3), money.check.error ?? '');
      facts.push({ startedAt, endedAt: Date.now(), invariant: money.violations, fault });
    }
    workload.scenario = -1;
    await workload.stop();
    const applied = await appliedWrites(data.url, keyPrefix(tag));
    const stored = await storedMessages(data.url, keyPrefix(tag));
    // The members' last messages may still be on their way (or in a gap repair): give them time.
    await pollUntil('every member received every stored message of its room', DELIVERY_DEADLINE_MS, () =>
      workload.members.every((m) => stored.every((x) => x.room !== m.room || m.received.has(x.text))),
    ).catch((err: Error) => say(`  rooms: ${err.message}`));
    workload.close();
    const escrow = await moneyViolations(data.url);
    const results = scenarios.map((s: Scenario, i) => {
      const f = facts[i]!;
      const counts = countScenario(i, workload.records, applied, watch.deaths, cluster.crashes, {
        startedAt: f.startedAt,
        endedAt: f.endedAt,
        expectedDown,
        invariantViolations: f.invariant,
      });
      const games = {
        rooms: countRooms(i, workload.says, stored, workload.members),
        duels: countDuels(i, workload.duels),
      };
      const calls = troubledCalls(i, workload.records, applied, f.startedAt);
      return resultOf(s, counts, f.endedAt - f.startedAt, f.fault.notes.filter(Boolean), f.fault.misses, games, calls);
    });
    const closed = workload.members.reduce((n, m) => n + m.closed, 0);
    const after = [
      `  escrow after the run: ${escrow.check.stakesHeld} soft still held (duels not settled yet), ` +
        `money invariant violations ${escrow.violations}; roomClosed seen by members ${closed}`,
    ];
    const text = [...results.map(scenarioText), verdictText(results), ...after].join('\n');
    return { results, ok: results.every((r) => r.missed.length === 0) && escrow.violations === 0, text };
  } finally {
    for (const c of cleanups.reverse()) await c().catch((err: Error) => say(`  cleanup: ${err.message}`));
    if (process.env.CHAOS_KEEP_LOGS === undefined) rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  let opts: ChaosOptions;
  try {
    opts = parseArgs(process.argv.slice(2));
    scenariosOf(opts); // a misspelt --only name fails here, before a cluster is started
  } catch (err) {
    say(`chaos: ${(err as Error).message}`);
    process.exit(2);
  }
  runChaos(opts).then(
    (r) => {
      process.stdout.write(`${opts.json ? JSON.stringify({ ok: r.ok, results: r.results }) : r.text}\n`);
      process.exit(r.ok ? 0 : 1);
    },
    (err: unknown) => {
      say(`chaos: the run could not complete: ${(err as Error).stack ?? String(err)}`);
      process.exit(1);
    },
  );
}
