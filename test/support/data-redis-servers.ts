// Throwaway redis-server processes for shard tests: each on a free port, no persistence, ready
// when it answers PING (polled with a deadline), stopped by its own pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { until } from './wait';

export interface RedisServer {
  port: number;
  url: string;
  /** Sends signal to this server's pid and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Sends a signal without waiting (SIGSTOP/SIGCONT: a server that hangs without closing sockets). */
  signal(signal: NodeJS.Signals): void;
}

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
    connectTimeout: 200,
  });
  c.on('error', () => {});
  try {
    await c.connect();
    return (await c.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    c.disconnect();
  }
}

function exited(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => proc.once('exit', () => resolve()));
}

/** Starts redis-server on port (a free one if not given) and waits until it answers. */
export async function startRedisServer(port?: number): Promise<RedisServer> {
  const p = port ?? (await freePort());
  const proc = spawn('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  let spawnError: Error | undefined;
  proc.on('error', (err) => {
    spawnError = err;
  });
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null && proc.pid !== undefined) process.kill(proc.pid, signal);
    await exited(proc);
  };
  try {
    await until(
      `redis-server on port ${p}`,
      async () => {
        if (spawnError !== undefined) throw spawnError;
        if (proc.exitCode !== null) throw new Error(`redis-server on port ${p} exited with ${proc.exitCode}`);
        return answersPing(p);
      },
      10_000,
      20,
    );
  } catch (err) {
    await stop('SIGKILL');
    throw err;
  }
  const signal = (sig: NodeJS.Signals): void => {
    if (proc.exitCode === null && proc.signalCode === null && proc.pid !== undefined) process.kill(proc.pid, sig);
  };
  return { port: p, url: `redis://127.0.0.1:${p}`, stop, signal };
}
