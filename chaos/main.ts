/**
 * `npm run chaos [-- --short] [--players N] [--json]`: a cluster of separate `noon start`
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
import { appliedWrites, moneyViolations } from './check';
import { ChaosCluster, type Slot } from './cluster';
import { runFault, type FaultOutcome } from './faults';
import { findPgBin, freePort, OwnPostgres, startRedisShards, type RedisShard } from './infra';
import { resultOf, scenarioText, verdictText, type ScenarioResult } from './report';
import { CLUSTER_ROLES, CLUSTER_SIZE, scenarioTable, type Scenario } from './scenarios';
import { countScenario } from './tally';
import { pause, pollUntil } from './wait';
import { YellowWatch } from './watch';
import { keyPrefix, Workload } from './workload';

const ROOT = join(__dirname, '..');
const HEARTBEAT_MS = 1000;
/** calls made after a fault's cluster is whole again still belong to it: late effects show here */
const SETTLE_MS = 2000;

export interface ChaosOptions {
  short: boolean;
  partition: boolean;
  players: number;
  json: boolean;
}

export function parseArgs(argv: readonly string[]): ChaosOptions {
  const o: ChaosOptions = { short: false, partition: false, players: 12, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--short') o.short = true;
    else if (a === '--partition') o.partition = true;
    else if (a === '--json') o.json = true;
    else if (a === '--players') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1 || n > 1000) throw new Error(`--players: expected 1..1000, got ${argv[i]}`);
      o.players = n;
    } else throw new Error(`unknown option ${JSON.stringify(a)}; options: --short, --players N, --partition, --json`);
  }
  return o;
}

const say = (line: string): void => void process.stderr.write(`${line}\n`);

/** The Postgres the cluster uses: the tool's own when the binaries exist, else a fresh database on a shared server. */
async function openPostgres(tag: string): Promise<{ url: string; own?: OwnPostgres; drop(): Promise<void> }> {
  const bin = findPgBin();
  if (bin) {
    const own = await OwnPostgres.create(bin);
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

export async function runChaos(o: ChaosOptions): Promise<{ results: ScenarioResult[]; ok: boolean; text: string }> {
  const tag = randomBytes(4).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'noon-chaos-'));
  const logDir = join(dir, 'logs');
  mkdirSync(logDir);
  const scenarios = scenarioTable({ short: o.short, partition: o.partition });
  say(`chaos ${tag}: ${scenarios.length} scenarios, ${o.players} players; process logs in ${logDir}`);
  const cleanups: Array<() => Promise<unknown>> = [];
  try {
    const data = await openPostgres(tag);
    cleanups.push(() => data.drop());
    const shards: RedisShard[] = await startRedisShards(2);
    cleanups.push(() => Promise.all(shards.map((s) => s.stop())));
    const yellowPorts = [await freePort(), await freePort()];
    const brokerlistPort = await freePort();
    const keyDir = join(dir, 'keys');
    ensureKeys(keyDir, [...new Set([...INFRA_KEY_ROLES, ...CLUSTER_ROLES])]);
    const yellow = yellowPorts.map((p) => `tcp://127.0.0.1:${p}`);
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
        if (role === 'yellow') return { role, index, env: { NOON_YELLOW_PORT: String(yellowPorts[index]) } };
        if (role === 'brokerlist') return { role, index, env: { NOON_BROKERLIST_PORT: String(brokerlistPort) } };
        return { role, index, env: {} };
      }),
    );
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
      brokerListUrl: `http://127.0.0.1:${brokerlistPort}`,
      players: o.players,
      thinkMs: 20,
      tag,
    });
    cleanups.unshift(() => workload.stop());
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
    const results = scenarios.map((s: Scenario, i) => {
      const f = facts[i]!;
      const counts = countScenario(i, workload.records, applied, watch.deaths, cluster.crashes, {
        startedAt: f.startedAt,
        endedAt: f.endedAt,
        expectedDown,
        invariantViolations: f.invariant,
      });
      return resultOf(s, counts, f.endedAt - f.startedAt, f.fault.notes.filter(Boolean), f.fault.misses);
    });
    const text = [...results.map(scenarioText), verdictText(results)].join('\n');
    return { results, ok: results.every((r) => r.missed.length === 0), text };
  } finally {
    for (const c of cleanups.reverse()) await c().catch((err: Error) => say(`  cleanup: ${err.message}`));
    if (process.env.CHAOS_KEEP_LOGS === undefined) rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  let opts: ChaosOptions;
  try {
    opts = parseArgs(process.argv.slice(2));
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
