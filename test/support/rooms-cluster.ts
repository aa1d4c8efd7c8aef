/**
 * A cluster of real processes for room tests: `noon start` yellow, sso, player, N chat and M
 * brokers, on a Postgres database of its own (created and dropped here) and Redis logical
 * database 10. The test process watches Yellow (every `down` event is recorded) and serves a
 * BrokerList of its own that lists the brokers still running, the first one alternating per
 * request so members spread over the brokers. Members are real SDK clients.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { loadConfig } from '../../shared/config';
import { silentLogger } from '../../shared/log';
import { YellowClient } from '../../yellow/client';
import type { Directory } from '../../yellow/directory';
import { NoonClient } from '../../client';
import { cleanEnv, NoonProc } from './cli-proc';
import { pgUrlFor, redisUrlFor } from './services';
import { until } from './wait';
import { createTestDatabase, dropTestDatabase } from './cluster-data';

export interface RoleProc {
  proc: NoonProc;
  instanceId: string;
  ready: Record<string, unknown>;
}

export class RoomsCluster {
  readonly dbName = `noon_rooms_${randomBytes(5).toString('hex')}`;
  readonly pgUrl = pgUrlFor(this.dbName);
  readonly chats = new Map<string, RoleProc>();
  readonly brokers = new Map<string, RoleProc>();
  /** instance ids Yellow reported down, in order */
  readonly downs: string[] = [];
  directory!: Directory;
  private yellow?: RoleProc;
  private readonly others: RoleProc[] = [];
  private watcher?: YellowClient;
  private brokerList?: Server;
  private turn = 0;
  brokerListUrl = '';
  readonly sql = { query: (q: string, args: unknown[] = []) => this.query(q, args) };
  private db?: Client;

  constructor(private readonly opts: { heartbeatMs: number; env?: Record<string, string> }) {}

  async start(chats: number, brokers: number): Promise<void> {
    await createTestDatabase(this.dbName);
    this.yellow = await this.role('yellow', { NOON_YELLOW_PORT: '0' });
    const cfg = loadConfig({ yellow: [String(this.yellow.ready.router)], heartbeatMs: this.opts.heartbeatMs }, {});
    this.watcher = YellowClient.fromConfig(cfg, silentLogger());
    this.directory = await this.watcher.watch();
    this.directory.on('down', ({ instanceId }) => this.downs.push(instanceId));
    // Migrations are serialised by an advisory lock: every role can start at once.
    await Promise.all([
      ...['player', 'sso'].map(async (role) => this.others.push(await this.role(role))),
      ...Array.from({ length: chats }, () => this.startChat()),
      ...Array.from({ length: brokers }, () => this.startBroker()),
    ]);
    await this.serveBrokerList();
    this.db = new Client({ connectionString: this.pgUrl });
    await this.db.connect();
  }

  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return cleanEnv({
      NOON_PG_URL: this.pgUrl,
      NOON_REDIS: redisUrlFor(10),
      NOON_HEARTBEAT_MS: String(this.opts.heartbeatMs),
      NOON_SCRYPT_N: '1024',
      NOON_LOG_LEVEL: 'warn',
      // rooms are under test here, not the internal plane's keys (internal-keys.test.ts): the
      // test's own Yellow watcher speaks plaintext
      NOON_INTERNAL_PLAINTEXT: '1',
      NOON_BROKER_PORT: '0',
      NOON_BROKER_WS_PORT: '0',
      ...(this.yellow ? { NOON_YELLOW: String(this.yellow.ready.router) } : {}),
      ...this.opts.env,
      ...extra,
    });
  }

  async role(role: string, extra: Record<string, string> = {}): Promise<RoleProc> {
    const proc = new NoonProc(['start', role], this.env(extra));
    const ready = await proc.waitFor(`${role} ready`, () => proc.jsonLine({ ready: role }), 120_000);
    const instanceId = String(ready.instanceId);
    if (this.directory) await until(`Yellow lists ${instanceId}`, () => this.live(role).includes(instanceId), 60_000);
    return { proc, instanceId, ready };
  }

  live(role: string): string[] {
    return this.directory.instances({ role, includeDraining: true }).map((r) => r.instanceId);
  }

  async startChat(): Promise<string> {
    const r = await this.role('chat');
    this.chats.set(r.instanceId, r);
    return r.instanceId;
  }

  async startBroker(): Promise<string> {
    const r = await this.role('broker');
    this.brokers.set(r.instanceId, r);
    return r.instanceId;
  }

  /** SIGKILLs a chat or broker process and waits until Yellow reports it down. */
  async kill(instanceId: string): Promise<void> {
    const r = this.chats.get(instanceId) ?? this.brokers.get(instanceId);
    if (!r) throw new Error(`no process ${instanceId}`);
    this.chats.delete(instanceId);
    this.brokers.delete(instanceId);
    await r.proc.stop('SIGKILL');
    await until(`${instanceId} reported down`, () => this.downs.includes(instanceId), 60_000);
  }

  /** Yellow's drain op, as `noon yellow drain` sends it. */
  async drain(instanceId: string): Promise<void> {
    await this.watcher?.drain(instanceId, true);
    await until(
      `${instanceId} draining`,
      () => this.directory.instances({ includeDraining: true }).find((r) => r.instanceId === instanceId)?.draining,
      30_000,
    );
  }

  /** A member: an SDK client through the BrokerList, reconnecting quickly. */
  client(): Promise<NoonClient> {
    return NoonClient.viaBrokerList(this.brokerListUrl, {
      reconnectDelayMs: { min: 50, max: 500 },
      callTimeoutMs: 15_000,
    });
  }

  async stop(): Promise<void> {
    await this.db?.end().catch(() => undefined);
    this.brokerList?.close();
    await this.watcher?.stop();
    const all = [...this.brokers.values(), ...this.chats.values(), ...this.others];
    await Promise.all(all.map((r) => r.proc.stop('SIGTERM', 10_000)));
    if (this.yellow) await this.yellow.proc.stop('SIGTERM', 10_000);
    await dropTestDatabase(this.dbName);
  }

  private async query(q: string, args: unknown[]): Promise<Record<string, unknown>[]> {
    if (!this.db) throw new Error('cluster not started');
    return (await this.db.query(q, args)).rows as Record<string, unknown>[];
  }

  private async serveBrokerList(): Promise<void> {
    this.brokerList = createServer((_req, res) => {
      const list = [...this.brokers.values()].map((b) => ({
        tcp: String(b.ready.tcp),
        load: 0.5,
        instanceId: b.instanceId,
      }));
      const first = list.length > 0 ? this.turn++ % list.length : 0;
      const ordered = [...list.slice(first), ...list.slice(0, first)].map((b, i) => ({
        ...b,
        load: i === 0 ? 0.1 : 0.5,
      }));
      res.setHeader('content-type', 'application/json');
      const brokerList = Object.fromEntries(ordered.map((b) => [b.tcp, b.load]));
      res.end(JSON.stringify({ version: '1', brokerList, brokers: ordered }));
    });
    await new Promise<void>((r) => this.brokerList?.listen(0, '127.0.0.1', r));
    this.brokerListUrl = `http://127.0.0.1:${(this.brokerList.address() as AddressInfo).port}/brokers`;
  }
}
