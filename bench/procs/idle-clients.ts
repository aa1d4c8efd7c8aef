// Idle client connections for bench/idle-conns.ts: IDLE_COUNT framed-TCP connections to
// IDLE_ENDPOINT from source address IDLE_LOCAL (the broker caps connections per address), opened
// IDLE_PARALLEL at a time; one ready line {"ready": "clients", "opened": n}. On SIGUSR2 every
// connection makes one `Leaderboard:top` call and the process prints {"called": ok, "failed": n}.
import type { Socket } from 'node:net';
import { connect } from 'node:net';
import { MessageType, peekHeader } from '../../shared/thrift/header';
import { corkedWriter, readFrames } from '../lib/framed';
import { topCall } from '../lib/thrift-client';

const endpoint = process.env.IDLE_ENDPOINT ?? '';
const count = Number(process.env.IDLE_COUNT ?? 0);
const local = process.env.IDLE_LOCAL ?? '127.0.0.1';
const parallel = Number(process.env.IDLE_PARALLEL ?? 100);
const [host, port] = endpoint.split(':');

/** Connects, retrying a refused or timed-out connect (a loaded machine overflows the accept backlog). */
async function open(): Promise<Socket> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await connectOnce();
    } catch (err) {
      if (attempt >= 20) throw err;
      await new Promise((r) => setTimeout(r, 50 * attempt));
    }
  }
}

function connectOnce(): Promise<Socket> {
  const socket = connect({ host: host as string, port: Number(port), localAddress: local, noDelay: true });
  return new Promise<Socket>((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('error', (err) => {
      socket.destroy();
      reject(err);
    });
  }).then((s) => {
    s.on('error', () => undefined);
    return s;
  });
}

async function inParallel(n: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, n) }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

/** One call on `s`; resolves true on a non-exception reply, false on an exception or a close. */
function callOnce(s: Socket, call: Buffer): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    s.once('close', () => resolve(false));
    readFrames(s, 4 << 20, (f) => resolve(peekHeader(f, 256).type !== MessageType.EXCEPTION));
    corkedWriter(s)(call);
  });
}

async function main(): Promise<void> {
  const sockets: Socket[] = [];
  await inParallel(count, async () => {
    sockets.push(await open());
  });
  process.stdout.write(`${JSON.stringify({ ready: 'clients', opened: sockets.length })}\n`);
  const call = topCall(1);
  process.once('SIGUSR2', () => {
    let called = 0;
    let failed = 0;
    void inParallel(sockets.length, async (i) => {
      if (await callOnce(sockets[i] as Socket, call)) called++;
      else failed++;
    }).then(() => process.stdout.write(`${JSON.stringify({ called, failed })}\n`));
  });
  process.once('SIGTERM', () => {
    for (const s of sockets) s.destroy();
    process.exit(0);
  });
}

void main();
