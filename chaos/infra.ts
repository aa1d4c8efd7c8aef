/**
 * The chaos cluster's data servers, all the tool's own so it may kill them: Redis shards
 * (redis-server on spare ports, no persistence) and a throwaway Postgres cluster (initdb and pg_ctl
 * in a temporary directory, on a spare port). Each is stopped by its own pid (pg_ctl reads the
 * postmaster's pid file) and its files removed.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { Redis } from 'ioredis';
import { pollUntil } from './wait';

const run = promisify(execFile);

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function answersPing(port: number): Promise<boolean> {
  const c = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return (await c.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    c.disconnect();
  }
}

/** Loopback, and `host` too when it is another address (the bridge's, which other hosts reach). */
const listenOn = (host: string): string[] => (host === '127.0.0.1' ? [host] : ['127.0.0.1', host]);

/**
 * One redis-server; `kill` and `start` again keep its port, so the cluster's shard list stays
 * right. It listens on loopback and on `host`, the address the cluster is given.
 */
export class RedisShard {
  private proc: ChildProcess | undefined;
  constructor(
    readonly port: number,
    readonly host = '127.0.0.1',
  ) {}

  get url(): string {
    return `redis://${this.host}:${this.port}`;
  }

  async start(): Promise<void> {
    const proc = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        ...listenOn(this.host),
        // protected mode refuses every client not on loopback when there is no password: the
        // cluster's other hosts reach the shard on the bridge's private address
        ...(this.host === '127.0.0.1' ? [] : ['--protected-mode', 'no']),
        '--save',
        '',
        '--appendonly',
        'no',
      ],
      { stdio: 'ignore' },
    );
    let failure: Error | undefined;
    proc.on('error', (err) => (failure = new Error(`redis-server could not start: ${err.message}`)));
    this.proc = proc;
    await pollUntil(`redis-server on port ${this.port} answers PING`, 10_000, async () => {
      if (failure) throw failure;
      if (proc.exitCode !== null) throw new Error(`redis-server on port ${this.port} exited with ${proc.exitCode}`);
      return answersPing(this.port);
    });
  }

  /** Signals its pid and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill(signal);
    await gone;
  }
}

export async function startRedisShards(n: number, host = '127.0.0.1'): Promise<RedisShard[]> {
  const shards: RedisShard[] = [];
  for (let i = 0; i < n; i++) shards.push(new RedisShard(await freePort(), host));
  await Promise.all(shards.map((s) => s.start()));
  return shards;
}

/** The newest PostgreSQL server binaries on this machine, or undefined. */
export function findPgBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'pg_ctl')) && existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

const POSTGRES_USER = 'postgres';

/**
 * A Postgres cluster of the tool's own, listening on loopback and on `host` (the address the
 * cluster is given). As root, its server runs as the `postgres` user (it refuses root).
 */
export class OwnPostgres {
  private constructor(
    private readonly bin: string,
    readonly dir: string,
    readonly port: number,
    private readonly asUser: boolean,
    readonly host: string,
  ) {}

  static async create(bin: string, host = '127.0.0.1'): Promise<OwnPostgres> {
    const dir = mkdtempSync(join(tmpdir(), 'noon-chaos-pg-'));
    const asUser = process.getuid?.() === 0;
    if (asUser) {
      const { stdout } = await run('id', ['-u', POSTGRES_USER]);
      const { stdout: gid } = await run('id', ['-g', POSTGRES_USER]);
      chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
    }
    const pgc = new OwnPostgres(bin, dir, await freePort(), asUser, host);
    await pgc.exec('initdb', ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync']);
    // initdb trusts loopback only; the cluster's other hosts are on the bridge's subnet
    if (host !== '127.0.0.1') appendFileSync(join(dir, 'data', 'pg_hba.conf'), 'host all all samenet trust\n');
    await pgc.start();
    // a server that started but cannot be used is stopped here: nobody else holds it yet
    try {
      const admin = new pg.Client({ connectionString: pgc.url('postgres') });
      await admin.connect();
      await admin.query('CREATE DATABASE chaos').finally(() => admin.end());
    } catch (err) {
      await pgc.destroy();
      throw err;
    }
    return pgc;
  }

  url(database = 'chaos'): string {
    return `postgres://postgres@${this.host}:${this.port}/${database}`;
  }

  private exec(tool: string, args: string[]): Promise<unknown> {
    const path = join(this.bin, tool);
    return this.asUser ? run('runuser', ['-u', POSTGRES_USER, '--', path, ...args]) : run(path, args);
  }

  async start(): Promise<void> {
    // fsync off: the drills kill Postgres's processes, not the machine, so the OS keeps every committed page
    const opts = `-p ${this.port} -k ${this.dir} -c listen_addresses=${listenOn(this.host).join(',')} -c fsync=off -c max_connections=300`;
    await this.exec('pg_ctl', ['-D', join(this.dir, 'data'), '-o', opts, '-l', join(this.dir, 'log'), '-w', 'start']);
  }

  /** `immediate` ends every server process at once, as a crash would (recovery runs at the next start). */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await this.exec('pg_ctl', ['-D', join(this.dir, 'data'), '-m', mode, '-w', 'stop']);
  }

  async destroy(): Promise<void> {
    await this.stop('fast').catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
