/**
 * Reconnect storm: BENCH_STORM_SESSIONS (default 2,000) SDK sessions spread over three brokers
 * (separate `noon start` processes on real Postgres and Redis); the broker holding the most is
 * SIGKILLed and every one of its sessions must resume on the two others. Reports how long the
 * sessions took to resume (p50, p99, max, share within 10 s), how they spread over the survivors,
 * and the calls that failed afterwards (none should, besides outcome-unknown ones in flight at
 * the kill). Baseline in the same run: the time the same sessions took to connect and log in
 * at the start, at the same concurrency.
 *
 *   npm run bench:storm            BENCH_STORM_SESSIONS=500 for a quick one
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { NoonClient } from '../client';
import { runAsMain } from './lib/main';
import { spawnReady, stopChild, type Child } from './lib/procs';

const SESSIONS = Number(process.env.BENCH_STORM_SESSIONS ?? 2000);
const PG = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/15';
/** source addresses, so no single address meets the per-address caps */
const ADDRESSES = 50;
const CONCURRENCY = 25;

function pct(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0);
}

async function inBatches<T>(n: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array<T>(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await fn(i);
      }
    }),
  );
  return out;
}

async function run(): Promise<string> {
  const db = `noon_storm_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${db}`);
  const url = new URL(PG);
  url.pathname = `/${db}`;
  const env: Record<string, string> = {
    NOON_PG_URL: url.toString(),
    NOON_REDIS: REDIS,
    NOON_YELLOW_PORT: '0',
    NOON_BROKER_PORT: '0',
    NOON_BROKER_WS_PORT: '0',
    NOON_BROKERLIST_PORT: '0',
    NOON_METRICS_PORT: '0',
    NOON_LOGIN_ATTEMPTS_PER_IP: '100000',
    NOON_DATA_DIR: `/tmp/${db}`,
  };
  const children: Child[] = [];
  const start = async (role: string): Promise<Child> => {
    const c = await spawnReady(role, join('bench', 'procs', 'noon-role.ts'), { ...env, NOON_BENCH_ROLE: role }, 60_000);
    children.push(c);
    return c;
  };
  const clients: NoonClient[] = [];
  try {
    const yellow = await start('yellow');
    env.NOON_YELLOW = String(yellow.ready.router);
    await Promise.all(['sso', 'player'].map(start));
    const brokers = await Promise.all(['broker', 'broker', 'broker'].map(start));
    const brokerList = String((await start('brokerlist')).ready.url);
    for (;;) {
      const body = (await (await fetch(`${brokerList}/brokers`)).json()) as { brokers: unknown[] };
      if (body.brokers.length === 3) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    process.stderr.write(`  ${SESSIONS} sessions logging in\n`);
    const loginStart = Date.now();
    const loginMs = await inBatches(SESSIONS, async (i) => {
      const t0 = Date.now();
      const c = await NoonClient.viaBrokerList(brokerList, {
        callTimeoutMs: 20_000,
        keepAliveMs: 0,
        localAddress: `127.0.${1 + Math.floor(i / 250)}.${1 + (i % ADDRESSES)}`,
      });
      clients[i] = c;
      await c.sso.loginDevice(`storm-${db}-${i}`);
      return Date.now() - t0;
    });
    const loginWallMs = Date.now() - loginStart;
    const byBroker = (): Map<string, number> => {
      const m = new Map<string, number>();
      for (const c of clients) m.set(c.endpoint ?? '-', (m.get(c.endpoint ?? '-') ?? 0) + 1);
      return m;
    };
    const before = byBroker();
    const victim = brokers.reduce((a, b) =>
      (before.get(String(b.ready.tcp)) ?? 0) > (before.get(String(a.ready.tcp)) ?? 0) ? b : a,
    );
    const onVictim = clients.filter((c) => c.endpoint === victim.ready.tcp);
    process.stderr.write(`  SIGKILL ${String(victim.ready.instanceId)} holding ${onVictim.length} sessions\n`);
    const resumedMs: number[] = [];
    const failedResumes: string[] = [];
    const killedAt = Date.now();
    const done = Promise.all(
      onVictim.map(
        (c) =>
          new Promise<void>((resolve) => {
            c.once('reconnected', (info) => {
              if (info.resumeError) failedResumes.push(info.resumeError.message);
              resumedMs.push(Date.now() - killedAt);
              resolve();
            });
          }),
      ),
    );
    victim.proc.kill('SIGKILL');
    await Promise.race([done, new Promise((r) => setTimeout(r, 60_000))]);
    const errors: string[] = [];
    await inBatches(onVictim.length, async (i) => {
      await onVictim[i]?.player.getWallet().catch((e: Error) => errors.push(e.message));
    });
    const after = byBroker();
    resumedMs.sort((a, b) => a - b);
    loginMs.sort((a, b) => a - b);
    const within10 = resumedMs.filter((ms) => ms <= 10_000).length;
    const spread = brokers
      .filter((b) => b !== victim)
      .map((b) => `${after.get(String(b.ready.tcp)) ?? 0} (was ${before.get(String(b.ready.tcp)) ?? 0})`)
      .join(', ');
    return [
      `### Reconnect storm: ${onVictim.length} of ${SESSIONS} sessions on a SIGKILLed broker`,
      '',
      '| | p50 | p99 | max | note |',
      '|---|---:|---:|---:|---|',
      `| baseline: connect + loginDevice at the start (${CONCURRENCY} at a time) | ${pct(loginMs, 50)} ms | ${pct(loginMs, 99)} ms | ${loginMs.at(-1) ?? 0} ms | ${SESSIONS} sessions in ${loginWallMs} ms |`,
      `| kill → reconnected and resumed | ${pct(resumedMs, 50)} ms | ${pct(resumedMs, 99)} ms | ${resumedMs.at(-1) ?? 0} ms | ${resumedMs.length}/${onVictim.length} resumed, ${((100 * within10) / Math.max(1, onVictim.length)).toFixed(1)} % within 10 s |`,
      '',
      `survivors now hold ${spread}; resumes refused: ${failedResumes.length}; calls failing after the resume: ${errors.length}${errors[0] ? ` (${errors[0]})` : ''}`,
    ].join('\n');
  } finally {
    for (const c of clients) c?.close();
    await Promise.all(children.map((c) => stopChild(c)));
    await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
}

runAsMain(run);
