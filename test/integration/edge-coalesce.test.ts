// Room fan-out at the edge on real sockets (edge/tcp.ts, edge/ws.ts, edge/client-conn.ts): the
// messages a connection is sent within one event-loop turn are gathered and leave together, and
// one SharedPush is encoded once per protocol for all. Checked here: every frame arrives whole
// and in order for compact and binary TCP members, binary and Thrift-JSON WebSocket members, with
// a reply written between pushes in its place; the binary and JSON bytes are made once and shared;
// and a member that does not read is still cut off by its outbound bounds, within the same turn
// that queued too much (the gathered bytes count against it before they reach the socket).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import type { Server } from 'node:http';
import type { Server as NetServer } from 'node:net';
import WebSocket from 'ws';
import { ClientConn, type Wire } from '../../edge/client-conn';
import { FrameDecoder } from '../../edge/framing';
import { SharedPush } from '../../edge/shared-push';
import { listenTcp } from '../../edge/tcp';
import { ThriftJsonCodec, THRIFT_JSON_SUBPROTOCOL } from '../../edge/thrift-json';
import { transcodeMessage } from '../../edge/transcode';
import { listenWs } from '../../edge/ws';
import { silentLogger } from '../../shared/log';
import { ChatMessage } from '../../shared/protocol';
import { events } from '../../shared/thrift/events';
import { builtinShapes } from '../../shared/thrift/idl-shapes';
import { until } from '../support/wait';

const LIMITS = { outboundQueue: 256, outboundBytes: 1 << 20, outboundGraceMs: 2000, callsPerSecond: 1000 };
const JSON_LIMITS = { maxString: 1 << 20, maxContainer: 100_000, maxDepth: 32, maxMethodName: 256, maxInFlight: 64 };
const MESSAGES = 200;

const conns: ClientConn[] = [];
const servers: Array<Server | NetServer> = [];
let tcp = '';
let ws = '';
let limits = LIMITS;

function open(wire: Wire): { message(bytes: Buffer): void; closed(): void } {
  const codec = wire.json ? new ThriftJsonCodec(builtinShapes(), JSON_LIMITS) : undefined;
  const conn = new ClientConn(wire, limits, () => undefined, codec);
  conns.push(conn);
  return { message: () => undefined, closed: () => conn.close('peer closed') };
}

const chat = (seq: number): Buffer =>
  events.chatMessage(
    new ChatMessage({ roomId: 'r', seq, userId: 'u', username: 'n', text: `hello ${seq}`, sentAtMs: 1 }),
  );

before(async () => {
  const logger = silentLogger();
  const handlers = { open };
  const t = await listenTcp({ host: '127.0.0.1', port: 0, maxFrame: 1 << 20, logger, handlers });
  const w = await listenWs({
    host: '127.0.0.1',
    port: 0,
    maxFrame: 1 << 20,
    headersTimeoutMs: 10_000,
    logger,
    handlers,
  });
  servers.push(t.server, w.server);
  tcp = t.endpoint;
  ws = w.endpoint;
});

after(async () => {
  for (const c of conns) c.close('test over');
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

/** A TCP member: its ClientConn, and the frames it received. */
async function tcpMember(): Promise<{ conn: ClientConn; socket: Socket; frames: Buffer[] }> {
  const before = conns.length;
  const [host, port] = tcp.split(':');
  const socket = connect(Number(port), host as string);
  const frames: Buffer[] = [];
  const decoder = new FrameDecoder(1 << 20);
  socket.on('data', (d: Buffer) => frames.push(...decoder.push(d)));
  await until('the connection is open at the listener', () => conns.length > before);
  return { conn: conns[before] as ClientConn, socket, frames };
}

async function wsMember(json: boolean): Promise<{ conn: ClientConn; socket: WebSocket; frames: Buffer[] }> {
  const before = conns.length;
  const socket = new WebSocket(ws, json ? [THRIFT_JSON_SUBPROTOCOL] : []);
  const frames: Buffer[] = [];
  socket.on('message', (d: Buffer) => frames.push(Buffer.from(d)));
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  await until('the connection is open at the listener', () => conns.length > before);
  return { conn: conns[before] as ClientConn, socket, frames };
}

test('one turn of pushes to compact, binary, WebSocket and JSON members arrives whole and in order, a reply in its place, each encoding made once', async () => {
  const compact = await tcpMember();
  const binary = await tcpMember();
  binary.conn.useProtocol('binary');
  const wsBinary = await wsMember(false);
  wsBinary.conn.useProtocol('binary');
  const wsJson = await wsMember(true);
  const members = [compact, binary, wsBinary, wsJson];
  const reply = Buffer.from('a reply between the pushes');
  const pushes: SharedPush[] = [];
  // all in one turn: gathered per connection, written at the end of it
  for (let seq = 1; seq <= MESSAGES; seq++) {
    const push = new SharedPush(chat(seq));
    pushes.push(push);
    for (const m of members) assert.equal(m.conn.deliver(push), true);
    if (seq === MESSAGES / 2) compact.conn.send(reply);
  }
  await until('every member has every frame', () =>
    members.every((m) => m.frames.length >= MESSAGES + (m === compact ? 1 : 0)),
  );
  const codec = new ThriftJsonCodec(builtinShapes(), JSON_LIMITS);
  const expected = (seq: number): Buffer => chat(seq);
  assert.deepEqual(
    compact.frames.slice(0, MESSAGES / 2),
    pushes.slice(0, MESSAGES / 2).map((_, i) => expected(i + 1)),
  );
  assert.deepEqual(compact.frames[MESSAGES / 2], reply);
  assert.deepEqual(
    compact.frames.slice(MESSAGES / 2 + 1),
    pushes.slice(MESSAGES / 2).map((_, i) => expected(MESSAGES / 2 + i + 1)),
  );
  const binaryOf = (seq: number): Buffer => transcodeMessage(expected(seq), 'binary');
  assert.deepEqual(
    binary.frames,
    pushes.map((_, i) => binaryOf(i + 1)),
  );
  assert.deepEqual(
    wsBinary.frames,
    pushes.map((_, i) => binaryOf(i + 1)),
  );
  assert.deepEqual(
    wsJson.frames,
    pushes.map((_, i) => codec.toClient(expected(i + 1))),
  );
  // encoded once: the binary and JSON bytes are the same objects every member was given
  for (const p of pushes) {
    assert.equal(p.bytes('binary'), p.bytes('binary'));
    assert.equal(
      p.json(builtinShapes(), () => Buffer.from('not asked again')),
      p.json(builtinShapes(), () => undefined),
    );
  }
  for (const m of members) assert.equal(m.conn.closed, false);
  compact.socket.destroy();
  binary.socket.destroy();
  wsBinary.socket.close();
  wsJson.socket.close();
});

test('a member that does not read is cut off in the turn that queued past 4x its byte bound, while others get everything', async () => {
  limits = { ...LIMITS, outboundBytes: 1024 };
  try {
    const slow = await tcpMember();
    slow.socket.pause();
    const fine = await tcpMember();
    const n = Math.ceil((4 * 1024) / chat(1).length) + 10;
    let cutAt: number | undefined;
    for (let seq = 1; seq <= n; seq++) {
      const push = new SharedPush(chat(seq));
      if (!slow.conn.deliver(push) && cutAt === undefined) cutAt = seq;
      // the fine member reads: what it is sent in one turn stays within its bounds
      if (seq <= 10) assert.equal(fine.conn.deliver(push), true);
    }
    assert.ok(cutAt !== undefined && cutAt <= n, 'the slow member was cut off within the turn');
    assert.equal(slow.conn.closed, true);
    assert.match(slow.conn.closeReason, /^slow consumer: more than 4096 bytes queued/);
    await until('the fine member has its frames', () => fine.frames.length >= 10);
    assert.deepEqual(
      fine.frames,
      Array.from({ length: 10 }, (_, i) => chat(i + 1)),
    );
    assert.equal(fine.conn.closed, false);
    fine.socket.destroy();
    slow.socket.destroy();
  } finally {
    limits = LIMITS;
  }
});
