/**
 * One push stream per session (docs/pushes.md), on real processes (test/support/push-cluster.ts):
 * stock Thrift clients (the npm `thrift` package, and Python code from Apache Thrift's compiler)
 * get only their own replies and every push through Events:poll; an SDK client cut off for 10 s
 * resumes on the other broker and gets every push once, in order; one cut off past the window
 * is told what it missed; a duel's pushes follow a player to another broker.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import * as thrift from 'thrift';
import Int64 from 'node-int64';
import {
  BuyRequest,
  ChatMessage,
  Currency,
  DuelAction,
  DuelActRequest,
  DuelPhase,
  Events,
  MatchStatus,
  Player,
  RoundRequest,
  SpendRequest,
  Sso,
  Wallet,
} from '../../shared/protocol';
import { events } from '../../shared/thrift/events';
import { openMessage } from '../../shared/thrift/messages';
import { DEFAULT_CAPS } from '../../shared/thrift/capped';
import { NoonClient } from '../../client';
import { startSwitchProxy, type SwitchProxy } from '../support/switch-proxy';
import { startPushCluster, PUSH_WINDOW_COUNT, type PushCluster } from '../support/push-cluster';
import { until } from '../support/wait';

let cluster: PushCluster;
const closers: Array<() => unknown> = [];
const unique = (p: string): string => `${p}${randomBytes(3).toString('hex')}`;
const n = (v: { toNumber(): number } | number | undefined): number =>
  v === undefined ? NaN : typeof v === 'number' ? v : v.toNumber();

before(async () => {
  cluster = await startPushCluster();
});

after(async () => {
  for (const c of closers.reverse()) await c();
  await cluster.stop();
});

interface Seen {
  seq: number;
  name: string;
  detail: string;
}

/** An SDK client that records every stream push with the seq it came with. */
async function sdkVia(proxy: SwitchProxy, name: string): Promise<{ c: NoonClient; seen: Seen[]; missed: number[][] }> {
  const c = await NoonClient.connect(
    { tcp: proxy.endpoint },
    { callTimeoutMs: 8000, keepAliveMs: 0, reconnectDelayMs: { min: 50, max: 300 } },
  );
  closers.push(() => c.close());
  const seen: Seen[] = [];
  const missed: number[][] = [];
  c.on('walletChanged', (w) => seen.push({ seq: c.lastPushSeq, name: 'walletChanged', detail: String(w.soft) }));
  c.on('chatMessage', (m) => seen.push({ seq: c.lastPushSeq, name: 'chatMessage', detail: String(m.text) }));
  c.on('duelUpdated', (s) => seen.push({ seq: c.lastPushSeq, name: 'duelUpdated', detail: String(s.phase) }));
  c.on('matchFound', () => seen.push({ seq: c.lastPushSeq, name: 'matchFound', detail: '' }));
  c.on('pushesMissed', (from, to) => missed.push([n(from), n(to)]));
  await c.sso.register(name, `password-${name}`);
  return { c, seen, missed };
}

function chat(text: string): Buffer {
  return events.chatMessage(
    new ChatMessage({ roomId: 'lobby', seq: 1, userId: 'u', username: 'u', text, sentAtMs: 1 }),
  );
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

test('a client on the npm thrift package: every reply is its own, every walletChanged comes through Events:poll in order', async () => {
  const [host, port] = cluster.brokers[0].split(':');
  const conn = thrift.createConnection(host as string, Number(port), {
    transport: thrift.TFramedTransport,
    protocol: thrift.TCompactProtocol,
  });
  const errors: unknown[] = [];
  conn.on('error', (e) => errors.push(e));
  closers.push(() => conn.end());
  await new Promise<void>((resolve) => conn.once('connect', () => resolve()));
  const mux = new thrift.Multiplexer();
  type Ctor<C> = new (...args: never[]) => C;
  const make = <C>(name: string, ctor: Ctor<C>): C =>
    mux.createClient(name, ctor as unknown as thrift.TClientConstructor<C>, conn);
  const sso = make('Sso', Sso.Client);
  const player = make('Player', Player.Client);
  const ev = make('Events', Events.Client);
  const name = unique('npm');
  const session = await sso.register(name, `password-${name}`);
  assert.equal(session.username, name);
  const wallets: number[][] = [];
  for (let i = 0; i < 3; i++) {
    const r = await player.playRound(new RoundRequest({ idempotencyKey: `${name}-r${i}`, stage: 1 }));
    assert.ok(r.profile?.userId, 'playRound answered with its RoundResult');
    if (n(r.softReward) > 0) wallets.push([n(r.profile.wallet?.soft), n(r.profile.wallet?.hard)]);
    const w = await player.spendCurrency(
      new SpendRequest({ idempotencyKey: `${name}-s${i}`, currency: Currency.SOFT, amount: 5, reason: 'test' }),
    );
    assert.ok(w instanceof Wallet, 'spendCurrency answered with its Wallet');
    wallets.push([n(w.soft), n(w.hard)]);
  }
  const bought = await player.buyCurrency(
    new BuyRequest({ receiptId: `dev:gems_50:${randomBytes(6).toString('hex')}`, currency: Currency.HARD, amount: 50 }),
  );
  wallets.push([n(bought.soft), n(bought.hard)]);
  const read = await player.getWallet();
  assert.deepEqual([n(read.soft), n(read.hard)], wallets.at(-1), 'getWallet answered with the wallet');

  const got: { seq: number; wallet: number[] }[] = [];
  while (got.length < wallets.length) {
    const batch = await ev.poll(new Int64(got.at(-1)?.seq ?? 0), 100, 5000);
    assert.equal(n(batch.missedTo), 0, 'nothing missed');
    for (const e of batch.events ?? []) {
      assert.equal(e.name, 'Events:walletChanged');
      const { input } = openMessage(e.message as Buffer, DEFAULT_CAPS, 'compact');
      const header = input.readMessageBegin();
      assert.equal(header.mtype, thrift.Thrift.MessageType.ONEWAY);
      assert.equal(header.rseqid, n(e.seq), 'the message carries its seq as seqid');
      const w = Events.WalletChangedArgs.read(input).wallet;
      got.push({ seq: n(e.seq), wallet: [n(w.soft), n(w.hard)] });
    }
  }
  assert.deepEqual(
    got.map((g) => g.seq),
    range(1, wallets.length),
  );
  assert.deepEqual(
    got.map((g) => g.wallet),
    wallets,
  );
  assert.equal((await ev.poll(new Int64(wallets.length), 100, 0)).events?.length, 0, 'no more pushes');
  assert.deepEqual(errors, [], 'no unsolicited message reached the client');
});

test('a client generated by Apache Thrift for Python: every reply is its own, every walletChanged through Events:poll in order', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'noon-py-'));
  closers.push(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('thrift', ['--gen', 'py', '-out', dir, 'shared/protocol/noon.thrift']);
  const [host, port] = cluster.brokers[1].split(':');
  const name = unique('py');
  const receipt = `dev:gems_50:${randomBytes(6).toString('hex')}`;
  const stdout = execFileSync(
    '/usr/bin/python3',
    ['test/support/push_poll_client.py', dir, host!, port!, name, receipt],
    {
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  const out = JSON.parse(stdout) as {
    calls: [string, string, unknown][];
    wallets: number[][];
    pushes: { seq: number; name: string; header: string; seqid: number; wallet: number[] }[];
    missed?: number[];
  };
  const expectedType: Record<string, string> = {
    register: 'Session',
    playRound: 'RoundResult',
    spendCurrency: 'Wallet',
    buyCurrency: 'Wallet',
    getWallet: 'Wallet',
    poll: 'PushBatch',
  };
  for (const [call, type] of out.calls) assert.equal(type, expectedType[call], `${call} got its own reply`);
  assert.equal(out.calls.filter(([c]) => c === 'spendCurrency').length, 3);
  assert.equal(out.missed, undefined);
  assert.deepEqual(
    out.pushes.map((p) => p.seq),
    range(1, out.wallets.length),
  );
  assert.deepEqual(
    out.pushes.map((p) => p.wallet),
    out.wallets,
  );
  for (const p of out.pushes) {
    assert.equal(p.name, 'Events:walletChanged');
    assert.equal(p.header, 'Events:walletChanged');
    assert.equal(p.seqid, p.seq);
  }
});

test('cut off for 10 s while wallet, chat and duel pushes are sent: resumes on the other broker and gets each once, in order; the duel then pushes to the new broker', async () => {
  const proxy = await startSwitchProxy(cluster.brokers[0]);
  closers.push(() => proxy.close());
  const x = await sdkVia(proxy, unique('x'));
  const y = await NoonClient.connect({ tcp: cluster.brokers[0] }, { callTimeoutMs: 8000, keepAliveMs: 0 });
  closers.push(() => y.close());
  await y.sso.register(unique('y'), 'password-y');
  assert.equal((await x.c.duel.findMatch(new Int64(0))).status, MatchStatus.QUEUED);
  const second = await y.duel.findMatch(new Int64(0));
  assert.equal(second.status, MatchStatus.MATCHED);
  const duelId = second.duelId as string;
  await until('x saw matchFound', () => x.seen.some((s) => s.name === 'matchFound'), 15_000);
  const sessionId = x.c.session?.sessionId as string;
  const before = x.c.lastPushSeq;
  assert.deepEqual(
    x.seen.map((s) => s.seq),
    range(1, before),
  );

  const disconnected = new Promise<void>((resolve) => x.c.once('disconnected', () => resolve()));
  proxy.cut();
  await disconnected;
  const cutAt = Date.now();
  const push = (m: Buffer): void => assert.ok(cluster.notifier.env.push(sessionId, m));
  push(events.walletChanged(new Wallet({ soft: 1001, hard: 0 })));
  push(chat('while away 1'));
  await y.duel.act(new DuelActRequest({ duelId, action: DuelAction.DRAW }));
  push(events.walletChanged(new Wallet({ soft: 1002, hard: 0 })));
  push(chat('while away 2'));
  const head = await until('all five pushes numbered', async () =>
    (await cluster.headOf(sessionId)) >= before + 5 ? cluster.headOf(sessionId) : undefined,
  );
  assert.equal(head, before + 5, 'four notifier pushes and one duelUpdated');
  assert.equal(x.c.lastPushSeq, before, 'nothing reached the client while it was cut off');
  await until('10 s without a connection', () => Date.now() - cutAt >= 10_000, 15_000, 100);

  const reconnected = new Promise<void>((resolve) => x.c.once('reconnected', () => resolve()));
  proxy.to(cluster.brokers[1]);
  await reconnected;
  await until('x replayed up to the head', () => x.c.lastPushSeq >= head, 15_000);
  const replayed = x.seen.filter((s) => s.seq > before);
  assert.deepEqual(
    replayed.map((s) => s.seq),
    range(before + 1, head),
    'each push once, in order',
  );
  assert.deepEqual(
    replayed.filter((s) => s.name !== 'duelUpdated').map((s) => `${s.name}:${s.detail}`),
    ['walletChanged:1001', 'chatMessage:while away 1', 'walletChanged:1002', 'chatMessage:while away 2'],
  );
  assert.equal(replayed.filter((s) => s.name === 'duelUpdated').length, 1);
  assert.deepEqual(x.missed, []);
  const brokerOfX = await cluster.redis.hget(`sess:{${sessionId}}`, 'broker');
  assert.ok(brokerOfX?.startsWith('broker-'), 'the session store names x broker');

  // x has made no duel call since it moved: the duel's pushes still find it, on the new broker.
  const end = await y.duel.act(new DuelActRequest({ duelId, action: DuelAction.SHOOT }));
  assert.equal(end.phase, DuelPhase.FINISHED);
  await until('x got the final duel state on the new broker', () =>
    x.seen.some((s) => s.name === 'duelUpdated' && s.detail === String(DuelPhase.FINISHED)),
  );
  const all = x.seen.map((s) => s.seq);
  assert.deepEqual(all, range(1, x.c.lastPushSeq), 'the whole stream, once each, in order');
  assert.equal(await cluster.redis.hget(`sess:{${sessionId}}`, 'broker'), brokerOfX, 'still on that broker');
});

test('cut off past the retention window: the client is told which pushes it missed, then gets the rest in order', async () => {
  const proxy = await startSwitchProxy(cluster.brokers[0]);
  closers.push(() => proxy.close());
  const z = await sdkVia(proxy, unique('z'));
  const sessionId = z.c.session?.sessionId as string;
  const before = z.c.lastPushSeq;
  const disconnected = new Promise<void>((resolve) => z.c.once('disconnected', () => resolve()));
  proxy.cut();
  await disconnected;
  const total = PUSH_WINDOW_COUNT + 5;
  for (let i = 1; i <= total; i++)
    assert.ok(cluster.notifier.env.push(sessionId, events.walletChanged(new Wallet({ soft: i, hard: 0 }))));
  await until('all pushes numbered', async () => (await cluster.headOf(sessionId)) === before + total);
  const reconnected = new Promise<void>((resolve) => z.c.once('reconnected', () => resolve()));
  proxy.to(cluster.brokers[1]);
  await reconnected;
  await until('z caught up', () => z.c.lastPushSeq === before + total, 15_000);
  const kept = before + total - PUSH_WINDOW_COUNT;
  assert.deepEqual(z.missed, [[before + 1, kept]], 'the pushes that fell out of the window, named');
  const after = z.seen.filter((s) => s.seq > before);
  assert.deepEqual(
    after.map((s) => s.seq),
    range(kept + 1, before + total),
  );
  assert.deepEqual(
    after.map((s) => Number(s.detail)),
    range(total - PUSH_WINDOW_COUNT + 1, total),
  );
});
