// A throwaway Redis Cluster for tests: redis-server processes with --cluster-enabled on free
// ports, each in its own temp dir, joined by `redis-cli --cluster create`; ready when every node
// says cluster_state:ok with all slots served. Each server is stopped by its own pid.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from './data-redis-servers';
import { until } from './wait';

const run = promisify(execFile);

export interface ClusterNode {
  port: number;
  pid: number;
  alive(): boolean;
  /** Sends signal to this server's pid and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface ClusterNodeInfo {
  id: string;
  port: number;
  role: 'master' | 'replica';
  /** for a replica, its master's id */
  masterId?: string;
  failed: boolean;
  /** slot ranges [from, to] (masters only) */
  slots: [number, number][];
}

export interface RedisClusterServers {
  nodes: ClusterNode[];
  /** redis-cluster://127.0.0.1:p1,... (every node a seed) */
  url: string;
  /** The cluster as node `port` (a live one by default) sees it. */
  topology(port?: number): Promise<ClusterNodeInfo[]>;
  /** The master serving slot now, as a live node sees it. */
  masterOfSlot(slot: number): Promise<ClusterNodeInfo>;
  /** Waits until every live node says cluster_state:ok and all slots are served by live masters. */
  waitHealthy(deadlineMs?: number): Promise<void>;
  /** A command on node port (e.g. CLUSTER KEYSLOT), answered as a string. */
  command(port: number, ...args: string[]): Promise<string>;
  /** Stops every server (SIGKILL) and removes the temp dirs. */
  stopAll(): Promise<void>;
}

function exited(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => proc.once('exit', () => resolve()));
}

async function ask(port: number, ...args: string[]): Promise<string> {
  const c = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 300,
  });
  c.on('error', () => {});
  try {
    await c.connect();
    return String(await c.call(args[0]!, ...args.slice(1)));
  } finally {
    c.disconnect();
  }
}

function parseNodes(text: string): ClusterNodeInfo[] {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [id, addr, flags, master, , , , , ...slots] = line.trim().split(' ');
      const port = Number(/:(\d+)@/.exec(addr!)?.[1]);
      const f = flags!.split(',');
      return {
        id: id!,
        port,
        role: f.includes('master') ? 'master' : 'replica',
        masterId: master === '-' ? undefined : master,
        failed: f.includes('fail') || f.includes('fail?'),
        slots: slots
          .filter((s) => !s.startsWith('['))
          .map((s) => {
            const [a, b] = s.split('-');
            return [Number(a), Number(b ?? a)] as [number, number];
          }),
      };
    });
}

export async function startRedisCluster(masters = 3, replicasPerMaster = 1): Promise<RedisClusterServers> {
  const nodes: ClusterNode[] = [];
  const dirs: string[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  };
  try {
    const count = masters * (1 + replicasPerMaster);
    for (let i = 0; i < count; i++) {
      const port = await freePort();
      const dir = mkdtempSync(join(tmpdir(), `noon-rcluster-${port}-`));
      dirs.push(dir);
      // No persistence (a killed master does not come back in these tests); a small node timeout
      // so a dead master is failed over in about two seconds.
      const proc = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--dir',
          dir,
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-node-timeout',
          '1000',
          '--save',
          '',
          '--appendonly',
          'no',
        ],
        { stdio: 'ignore' },
      );
      let spawnError: Error | undefined;
      proc.on('error', (err) => (spawnError = err));
      const alive = (): boolean => proc.exitCode === null && proc.signalCode === null;
      nodes.push({
        port,
        pid: proc.pid ?? -1,
        alive,
        stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
          if (alive() && proc.pid !== undefined) process.kill(proc.pid, signal);
          await exited(proc);
        },
      });
      await until(
        `cluster node on port ${port} answers PING`,
        async () => {
          if (spawnError !== undefined) throw spawnError;
          if (!alive()) throw new Error(`redis-server on port ${port} exited`);
          return (await ask(port, 'PING')) === 'PONG';
        },
        10_000,
        20,
      );
    }
    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...nodes.map((n) => `127.0.0.1:${n.port}`),
        '--cluster-replicas',
        String(replicasPerMaster),
        '--cluster-yes',
      ],
      { timeout: 30_000 },
    );
  } catch (err) {
    await stopAll();
    throw err;
  }
  const livePort = (): number => {
    const n = nodes.find((x) => x.alive());
    if (n === undefined) throw new Error('no live cluster node');
    return n.port;
  };
  const topology = async (port = livePort()): Promise<ClusterNodeInfo[]> =>
    parseNodes(await ask(port, 'CLUSTER', 'NODES'));
  const alivePorts = (): Set<number> => new Set(nodes.filter((n) => n.alive()).map((n) => n.port));
  const waitHealthy = async (deadlineMs = 30_000): Promise<void> => {
    await until(
      'every live cluster node: cluster_state:ok, 16384 slots on live masters, replicas in sync',
      async () => {
        const live = alivePorts();
        for (const port of live) {
          const info = await ask(port, 'CLUSTER', 'INFO');
          if (!/cluster_state:ok/.test(info) || !/cluster_slots_ok:16384/.test(info)) return false;
          let served = 0;
          for (const m of (await topology(port)).filter((n) => n.role === 'master' && live.has(n.port)))
            for (const [a, b] of m.slots) served += b - a + 1;
          if (served !== 16384) return false;
          // A replica that has not synced yet cannot take over (its data would be too old).
          const repl = await ask(port, 'INFO', 'replication');
          if (/role:slave/.test(repl) && !/master_link_status:up/.test(repl)) return false;
        }
        return true;
      },
      deadlineMs,
      50,
    );
  };
  const masterOfSlot = async (slot: number): Promise<ClusterNodeInfo> => {
    const m = (await topology()).find(
      (n) => n.role === 'master' && !n.failed && n.slots.some(([a, b]) => slot >= a && slot <= b),
    );
    if (m === undefined) throw new Error(`no master serves slot ${slot}`);
    return m;
  };
  const result: RedisClusterServers = {
    nodes,
    url: `redis-cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`,
    topology,
    masterOfSlot,
    waitHealthy,
    command: ask,
    stopAll,
  };
  try {
    await waitHealthy();
  } catch (err) {
    await stopAll();
    throw err;
  }
  return result;
}
