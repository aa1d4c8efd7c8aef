// Real Prometheus on a real `noon up --processes` (Postgres and Redis of its own): the shipped
// prometheus.yml, pointed at the cluster's Yellow (HTTP SD from Yellow's metrics port) and loaded
// with the shipped rules, scrapes every role; while a client makes calls, the HPA's adapter query,
// every Grafana panel's query and every recording rule return data through the HTTP API, and
// every rule evaluates without error. Scrape and evaluation every second, so it is quick.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import Int64 from 'node-int64';
import { NoonClient } from '../../client/client';
import { Currency, ErrorCode, SpendRequest } from '../../shared/protocol';
import { cleanEnv, clusterFlags, isAlive, NoonProc, runNoon, tempDir } from '../support/cli-proc';
import { createClusterData, dropClusterData } from '../support/cluster-data';
import { ROOT } from '../support/process';
import {
  adapterQuery,
  dashboardQueries,
  startPrometheus,
  type PrometheusServer,
  type VectorSample,
} from '../support/prometheus';
import { pgUrlFor, redisUrlFor } from '../support/services';
import { until } from '../support/wait';

const REDIS_DB = 13;
const ROLES = ['broker', 'brokerlist', 'channels', 'chat', 'duel', 'leaderboard', 'player', 'sso', 'worker', 'yellow'];
const database = `noon_prom_${randomBytes(5).toString('hex')}`;
const data = tempDir('noon-prom-scrape-');
let up: NoonProc | undefined;
let ready: Record<string, unknown>;
let prom: PrometheusServer | undefined;
let client: NoonClient | undefined;
let traffic: NodeJS.Timeout | undefined;
let round: Promise<void> = Promise.resolve();
const failures: string[] = [];
let rounds = 0;

async function yellowMetricsUrl(): Promise<string> {
  const keys = ['--internal-keys', join(data.dir, 'keys')];
  const r = await runNoon(['yellow', 'instances', 'yellow', '--json', '--yellow', String(ready.yellow), ...keys]);
  assert.equal(r.code, 0, r.stderr);
  const [y] = JSON.parse(r.stdout) as Array<{ endpoints: { metrics: string } }>;
  assert.ok(y?.endpoints.metrics);
  return y.endpoints.metrics;
}

/** The shipped prometheus.yml with this cluster's Yellow, the shipped rules and 1 s intervals. */
function prometheusConfig(yellowMetrics: string): string {
  const cfg = parse(readFileSync(join(ROOT, 'deploy', 'prometheus', 'prometheus.yml'), 'utf8')) as {
    global: Record<string, string>;
    rule_files: string[];
    scrape_configs: Array<{ job_name: string; http_sd_configs: Array<{ url: string; refresh_interval: string }> }>;
  };
  cfg.global.scrape_interval = '1s';
  cfg.global.evaluation_interval = '1s';
  cfg.rule_files = cfg.rule_files.map((f) => join(ROOT, 'deploy', 'prometheus', f));
  const job = cfg.scrape_configs.find((j) => j.job_name === 'noon');
  assert.ok(job, 'a noon job');
  job.http_sd_configs = [{ url: yellowMetrics.replace(/\/metrics$/, '/sd/targets'), refresh_interval: '1s' }];
  return stringify(cfg);
}

/** A vector with at least one number in it (NaN alone, e.g. a quantile of no calls, is no data). */
const hasData = (v: VectorSample[]): boolean => v.some((s) => Number.isFinite(Number(s.value[1])));

before(async () => {
  await createClusterData(database, REDIS_DB);
  up = new NoonProc(
    ['up', '--processes', '--pg-url', pgUrlFor(database), '--redis', redisUrlFor(REDIS_DB), ...clusterFlags(data.dir)],
    cleanEnv(),
  );
  ready = await up.waitFor('ready line', () => up?.jsonLine({ ready: 'up' }), 120_000);
  prom = await startPrometheus(prometheusConfig(await yellowMetricsUrl()));
  const c = await NoonClient.viaBrokerList(String(ready.brokerlist), { reconnect: false, keepAliveMs: 0 });
  client = c;
  await c.sso.register(`prom_${randomBytes(3).toString('hex')}`, 'pw-prom-12345');
  // Calls go on while the test reads, so every rate window holds some: a round every 100 ms
  // (30 calls/s, under the connection's 100/s), one at a time. The refused spend runs the
  // idempotency transaction, so transactions have a rate too.
  const oneRound = async (): Promise<void> => {
    await c.player.getWallet();
    await c.player.getProfile();
    await c.player
      .spendCurrency(
        new SpendRequest({
          idempotencyKey: `too-much-${rounds}`,
          currency: Currency.HARD,
          amount: new Int64(1e9),
          reason: 'prometheus test',
        }),
      )
      .then(
        () => failures.push('a spend beyond the wallet succeeded'),
        (e: { code?: number }) => {
          if (e.code !== ErrorCode.INSUFFICIENT_FUNDS) throw e;
        },
      );
    rounds++;
  };
  traffic = setInterval(() => {
    round = round.then(oneRound).catch((err: Error) => {
      failures.push(err.message);
    });
  }, 100);
});

after(async () => {
  clearInterval(traffic);
  await round;
  client?.close();
  await prom?.stop();
  const pids = (ready?.pids as number[] | undefined) ?? [];
  await up?.stop('SIGINT');
  for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  data.remove();
  await dropClusterData(database, REDIS_DB);
});

test('Prometheus finds every role through Yellow and scrapes each, one build_info per target', async () => {
  const p = prom as PrometheusServer;
  const roles = await until(
    'every role up in Prometheus',
    async () => {
      const upNow = await p.query('up{job="noon"} == 1');
      const info = await p.query('noon_build_info{job="noon"}');
      return upNow.length === ROLES.length && info.length === ROLES.length ? info : undefined;
    },
    60_000,
    250,
  );
  assert.deepEqual(roles.map((s) => s.metric.role).sort(), ROLES);
  // the target's own labels only: no exported_instance or exported_role from a clash
  const clashes = await p.query('count({job="noon", exported_instance!=""}) or count({job="noon", exported_role!=""})');
  assert.deepEqual(clashes, []);
});

test("the HPA's adapter query returns each broker's connections", async () => {
  const p = prom as PrometheusServer;
  const adapter = parse(readFileSync(join(ROOT, 'deploy', 'prometheus', 'adapter.yaml'), 'utf8')) as {
    rules: Array<{ seriesQuery: string; name: { matches: string; as: string }; metricsQuery: string }>;
  };
  const rule = adapter.rules.find((r) => r.name.as === 'noon_broker_connections');
  assert.ok(rule);
  const series = /^\^?(\w+)\$?$/.exec(rule.name.matches)?.[1] ?? '';
  // the adapter fills in the pod's matchers and groups by pod; here the target is the pod
  const q = adapterQuery(rule.metricsQuery, { Series: series, LabelMatchers: 'job="noon"', GroupBy: 'instance' });
  const v = await until(
    'the adapter query has data',
    async () => ((await p.query(q)).length > 0 ? p.query(q) : undefined),
    30_000,
    250,
  );
  assert.equal(v.length, 1, 'one broker');
  assert.ok(Number(v[0]?.value[1]) >= 1, `the test's client is connected: ${JSON.stringify(v)}`);
});

test('every Grafana panel query returns data', async () => {
  const p = prom as PrometheusServer;
  const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy', 'grafana', 'noon.json'), 'utf8')) as Parameters<
    typeof dashboardQueries
  >[0];
  const queries = dashboardQueries(dashboard, '15s');
  const missing = await until(
    'every panel query to return data',
    async () => {
      const empty: string[] = [];
      for (const q of queries) if (!hasData(await p.query(q.expr))) empty.push(`${q.panel}: ${q.expr}`);
      return empty.length === 0 ? [] : undefined;
    },
    60_000,
    500,
  ).catch(async (err: Error) => {
    const empty: string[] = [];
    for (const q of queries) if (!hasData(await p.query(q.expr))) empty.push(`${q.panel}: ${q.expr}`);
    throw new Error(`${err.message}\nno data:\n  ${empty.join('\n  ')}`);
  });
  assert.deepEqual(missing, []);
});

test('every recording rule has data and every rule evaluates without error', async () => {
  const p = prom as PrometheusServer;
  interface RuleState {
    name: string;
    type: string;
    health: string;
    lastError?: string;
  }
  const groups = await p.get<{ groups: Array<{ name: string; rules: RuleState[] }> }>('/api/v1/rules');
  const all = groups.groups.flatMap((g) => g.rules);
  assert.ok(all.length > 0, 'the rules are loaded');
  const records = all.filter((r) => r.type === 'recording').map((r) => r.name);
  await until(
    'every recording rule to have data',
    async () => {
      for (const name of records) if (!hasData(await p.query(name))) return undefined;
      return true;
    },
    60_000,
    500,
  ).catch(async (err: Error) => {
    const empty: string[] = [];
    for (const name of records) if (!hasData(await p.query(name))) empty.push(name);
    throw new Error(`${err.message}: ${empty.join(', ')}`);
  });
  const fresh = (await p.get<{ groups: Array<{ rules: RuleState[] }> }>('/api/v1/rules')).groups.flatMap(
    (g) => g.rules,
  );
  const bad = fresh.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`);
  assert.deepEqual(bad, []);
  // a converged cluster: no consumer misses an instance Yellow holds
  const missing = await p.query('instance:noon_directory_missing:instances != 0');
  assert.deepEqual(missing, []);
});

test('the calls made meanwhile all got their expected answers', () => {
  assert.ok(rounds > 0, 'calls were made');
  assert.deepEqual(failures, []);
});
