// Receivers of the room fan-out bench (bench/rooms-fanout.ts), in a process of their own so that
// the members' reading is spread over processes and is not what limits the measured rate.
// MEMBERS_COUNT sockets to MEMBERS_ENDPOINT: with MEMBERS_MODE=noon each logs in (the bench's
// fake sso) as MEMBERS_PREFIX<i>, subscribes to pushes and joins MEMBERS_ROOM; with
// MEMBERS_MODE=bare each says "member" to the bare fan-out process. Then every socket counts
// frames by their length prefix without decoding them, and every MEMBERS_CHECK_EVERY-th socket
// (the first included) also reads each frame's room seq and counts seqs that are not last + 1.
// Prints its ready line once all are members; each SIGUSR2 prints one JSON line of counts.
import { connect, type Socket } from 'node:net';
import { FrameDecoder } from '../../edge/framing';
import { rawClient } from '../../test/support/raw-client';
import { chatSeq, FrameCounter, SeqCheck } from '../lib/frame-count';

const endpoint = String(process.env.MEMBERS_ENDPOINT);
const mode = process.env.MEMBERS_MODE === 'bare' ? 'bare' : 'noon';
const count = Number(process.env.MEMBERS_COUNT ?? 250);
const room = process.env.MEMBERS_ROOM ?? 'fan';
const prefix = process.env.MEMBERS_PREFIX ?? `m${process.pid}-`;
const checkEvery = Number(process.env.MEMBERS_CHECK_EVERY ?? 100);
const JOIN_BATCH = 25;
/** a loaded machine times a login or join out now and then: that member tries again */
const ATTEMPTS = 5;

interface Member {
  socket: Socket;
  counter: FrameCounter;
  check?: SeqCheck;
}

function framed(b: Buffer): Buffer {
  const out = Buffer.alloc(4 + b.length);
  out.writeUInt32BE(b.length, 0);
  b.copy(out, 4);
  return out;
}

async function memberSocket(i: number): Promise<Socket> {
  if (mode === 'noon') {
    const c = await rawClient(endpoint);
    const name = `${prefix}${i}`;
    try {
      await c.sso.login(name, `pw-${name}`);
      await c.chat.join(room);
    } catch (err) {
      c.close();
      throw err;
    }
    // from here on nothing but room messages arrives: the Thrift client lets go of the socket
    c.socket.removeAllListeners('data');
    return c.socket;
  }
  const [host, port] = endpoint.split(':');
  const s = connect(Number(port), host as string);
  await new Promise<void>((resolve, reject) => {
    s.once('connect', resolve);
    s.once('error', reject);
  });
  s.write(framed(Buffer.from('member')));
  await new Promise((resolve) => s.once('data', resolve)); // "ok": from here on it gets every frame
  return s;
}

async function withRetries<T>(f: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await f();
    } catch (err) {
      if (attempt >= ATTEMPTS) throw err;
    }
  }
}

function watch(socket: Socket, checked: boolean): Member {
  const m: Member = { socket, counter: new FrameCounter() };
  socket.on('error', () => undefined);
  if (!checked) {
    socket.on('data', (d: Buffer) => m.counter.push(d));
    return m;
  }
  const check = new SeqCheck();
  const decoder = new FrameDecoder(1 << 20);
  m.check = check;
  socket.on('data', (d: Buffer) => {
    for (const f of decoder.push(d)) {
      m.counter.frames++;
      check.offer(chatSeq(f));
    }
  });
  return m;
}

async function main(): Promise<void> {
  const members: Member[] = [];
  let closed = 0;
  while (members.length < count) {
    const from = members.length;
    const sockets = await Promise.all(
      Array.from({ length: Math.min(JOIN_BATCH, count - from) }, (_, k) => withRetries(() => memberSocket(from + k))),
    );
    sockets.forEach((s, k) => {
      members.push(watch(s, (from + k) % checkEvery === 0));
      s.once('close', () => closed++);
    });
  }
  process.on('SIGUSR2', () => {
    let frames = 0;
    let min = Infinity;
    let max = 0;
    let checked = 0;
    let bad = 0;
    for (const m of members) {
      frames += m.counter.frames;
      min = Math.min(min, m.counter.frames);
      max = Math.max(max, m.counter.frames);
      if (m.check) {
        checked++;
        bad += m.check.bad;
      }
    }
    process.stdout.write(`${JSON.stringify({ frames, min, max, checked, bad, closed, atMs: Date.now() })}\n`);
  });
  process.stdout.write(`${JSON.stringify({ ready: 'room-members', members: members.length })}\n`);
  process.once('SIGTERM', () => {
    for (const m of members) m.socket.destroy();
    process.exit(0);
  });
}

void main().catch((err: unknown) => {
  process.stderr.write(`room-members: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
