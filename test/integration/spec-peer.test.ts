/**
 * The wire-protocol documents are enough to build a service: a peer written only from
 * docs/protocol/frames.md and docs/protocol/yellow.md (raw ZeroMQ sockets, hand-encoded frames,
 * hand-written Yellow JSON and Thrift compact/binary). It imports nothing of the repository's wire,
 * Yellow, RPC or service code. It registers a new Thrift service `Echo` in a real Yellow process,
 * a real broker process routes client calls to it, and the clients (the npm `thrift` package over
 * raw TCP, framed as in docs/protocol/client.md) get its answers, its errors, its login
 * directive and its pushes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import * as thrift from 'thrift';
import { kill, killAll, spawnNoon, type Child } from '../support/yellow-harness';
import { until } from '../support/wait';
import { Client, encodeCall, isException, isReply, type Received } from '../support/spec-peer/client';
import { EchoPeer, HEARTBEAT_MS, SERVICE } from '../support/spec-peer/peer';
import type { Proto } from '../support/spec-peer/wire';
import { YellowConn } from '../support/spec-peer/yellow';

/**
 * A broker's error message as docs/protocol/client.md §8 gives it: the message, then the call's
 * trace id, ` (trace <32 hex digits>)`.
 */
function withTrace(message: string): RegExp {
  return new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(trace [0-9a-f]{32}\\)$`);
}

const REQUEST_TIMEOUT_MS = 5000;
/** How long the children get to stop on SIGTERM before they are SIGKILLed (a deadline, not a sleep). */
const STOP_GRACE_MS = 5000;

// ---------------------------------------------------------------------------------------------

const procs: Child[] = [];
const clients: Client[] = [];
let dataDir = '';
let yellowProc: Child;
let brokerProc: Child;
let brokerReadyAt = 0;
let yellow: YellowConn;
let peer: EchoPeer;
let brokerId = '';
let brokerTcp = '';

async function client(protocol: Proto = 'compact'): Promise<Client> {
  const c = await Client.open(brokerTcp, protocol);
  clients.push(c);
  return c;
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'noon-spec-peer-'));
  // Only what this test sets: no NOON_* inherited from the shell (CURVE, Redis, ports).
  const env: Record<string, string> = {};
  for (const k of Object.keys(process.env)) if (k.startsWith('NOON_')) env[k] = '';
  Object.assign(env, {
    NOON_HEARTBEAT_MS: String(HEARTBEAT_MS),
    NOON_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
    NOON_YELLOW_PORT: '0',
    NOON_BROKER_PORT: '0',
    NOON_BROKER_WS_PORT: '0',
    NOON_METRICS_PORT: '0',
    NOON_LOG_LEVEL: 'error',
    NOON_DATA_DIR: dataDir,
    NOON_CALLS_PER_SECOND: '1000',
    // The peer speaks the documented wire in the clear; CURVE and role keys (docs/security.md)
    // sit under that wire and are shown by internal-keys.test.ts.
    NOON_INTERNAL_PLAINTEXT: '1',
  });
  yellowProc = await spawnNoon(['start', 'yellow'], env);
  procs.push(yellowProc);
  yellow = new YellowConn(String(yellowProc.ready.router));
  const hello = await yellow.ask('hello');
  assert.equal(hello.ok, true);
  assert.match(String(hello.pub), /^tcp:\/\/.+:\d+$/);
  yellow.follow(String(hello.pub));

  peer = new EchoPeer(yellow);
  await peer.start();
  // PUB drops events until the SUB's subscription has reached it, so register until the `up`
  // event of our registration is seen (each registration publishes one: yellow.md §3.1).
  let epoch = 0;
  await until(
    'the up event of our registration',
    async () => {
      const from = yellow.events.length;
      const reply = await peer.register();
      assert.equal(reply.ok, true, JSON.stringify(reply));
      assert.equal(typeof reply.epoch, 'number');
      assert.ok((reply.epoch as number) > epoch, 'the epoch grows on every registration');
      epoch = reply.epoch as number;
      const up = await yellow
        .event('up', (e) => e.type === 'up' && e.instance?.instanceId === peer.instanceId, 300, from)
        .catch(() => undefined);
      return up ? up : undefined;
    },
    10_000,
    1,
  );
  peer.startHeartbeats();

  // Started after the registration: the broker knows Echo before it takes any connection
  // (yellow.md §7 step 5), and connects its DEALER to our ROUTER.
  brokerProc = await spawnNoon(['start', 'broker'], { ...env, NOON_YELLOW: String(yellowProc.ready.router) });
  brokerReadyAt = Date.now();
  procs.push(brokerProc);
  brokerId = String(brokerProc.ready.instanceId);
  brokerTcp = String(brokerProc.ready.tcp);
  await until('the broker to connect to the peer', () => (peer.accepted > 0 ? true : undefined), 10_000);
});

after(async () => {
  for (const c of clients) c.close();
  peer?.close();
  if (yellow) {
    await yellow.ask('deregister', { instanceId: peer.instanceId }).catch(() => undefined);
    yellow.close();
  }
  // SIGTERM by pid (a clean stop deregisters); anything still running after 5 s is SIGKILLed.
  const deadline = setTimeout(() => killAll(), STOP_GRACE_MS);
  await Promise.all(procs.reverse().map((p) => kill(p, 'SIGTERM')));
  clearTimeout(deadline);
  rmSync(dataDir, { recursive: true, force: true });
});

test('Yellow lists the peer exactly as registered', async () => {
  const q = await yellow.ask('query', { filter: { service: 'Echo' } });
  assert.equal(q.ok, true);
  const instances = q.instances as Array<Record<string, unknown>>;
  assert.equal(instances.length, 1);
  const rec = instances[0] as Record<string, unknown>;
  assert.equal(rec.instanceId, peer.instanceId);
  assert.equal(rec.role, 'echo');
  assert.deepEqual(rec.endpoints, { router: peer.endpoint });
  assert.deepEqual(rec.service, SERVICE);
  assert.equal(rec.draining, false);
  assert.equal(typeof rec.lastHeartbeat, 'number');
  const bad = await yellow.ask('register', { reg: { ...peer.registration(), endpoints: { router: 'http://x:1' } } });
  assert.equal(bad.ok, false);
  assert.equal((bad.error as { code: string }).code, 'BAD_REQUEST');
  // The code appears once, as the message's prefix.
  assert.match((bad.error as { message: string }).message, /^BAD_REQUEST: registration field endpoints\.router/);
});

test('an anonymous compact client calls the peer through the broker (seqid 0 accepted)', async () => {
  const c = await client();
  const r = await c.call('Echo:echo', 0, [[1, 'hello']]);
  assert.ok(isReply(r), `a REPLY, got type ${r.type}`);
  assert.equal(r.seqid, 0);
  assert.equal(r.name, 'echo', 'the name the peer wrote, untouched by the broker');
  assert.equal(r.fields.get(0), 'hello');
  const seen = peer.requests.find((x) => x.call.args.get(1) === 'hello');
  assert.ok(seen, 'the peer got the call');
  assert.equal(seen.from, brokerId, 'the routing id is the broker instance id');
  assert.equal(seen.req.via, brokerId);
  assert.equal(seen.req.method, 'Echo:echo');
  assert.equal(seen.req.userId, '');
  assert.equal(seen.req.username, '');
  assert.match(seen.req.sessionId, new RegExp(`^anon:${brokerId}:`));
  assert.equal(seen.req.timeoutMs, REQUEST_TIMEOUT_MS);
  assert.ok(seen.req.traceId.length > 0);
  assert.ok(
    seen.req.payload.equals(encodeCall('compact', 'Echo:echo', 0, [[1, 'hello']]).subarray(4)),
    'the payload is the client bytes, without the frame length',
  );
});

test('pipelined calls come back matched by seqid, whatever the order the peer answered in', async () => {
  const c = await client();
  const n = 40;
  for (let i = 1; i <= n; i++) c.send('Echo:echo', i, [[1, `m${i}`]]);
  const answers = await Promise.all(
    Array.from({ length: n }, (_, k) => c.next(`reply ${k + 1}`, (m) => m.seqid === k + 1)),
  );
  assert.deepEqual(
    answers.map((a) => a.fields.get(0)),
    Array.from({ length: n }, (_, k) => `m${k + 1}`),
  );
  assert.ok(
    peer.messages.some((m) => m.envelopes > 1),
    'the broker batched several requests into one ZeroMQ message',
  );
});

test('a binary-protocol client gets a binary reply', async () => {
  const c = await client('binary');
  const r = await c.call('Echo:echo', 7, [[1, 'in binary']]);
  assert.ok(isReply(r));
  assert.equal(r.fields.get(0), 'in binary');
  assert.equal(peer.requests.at(-1)?.call.protocol, 'binary');
});

test("errors: the peer's error frame, and the broker's own refusals, as TApplicationException with a code prefix", async () => {
  const c = await client();
  const failed = await c.call('Echo:fail', 1);
  assert.ok(isException(failed));
  assert.match(failed.fields.get(1) ?? '', withTrace('NOT_FOUND: no such echo'));
  const whoami = await c.call('Echo:whoami', 2);
  assert.ok(isException(whoami));
  assert.match(whoami.fields.get(1) ?? '', withTrace('UNAUTHENTICATED: log in before calling Echo:whoami'));
  assert.equal(whoami.name, 'Echo:whoami', 'a broker-made error carries the name the client sent');
  const secret = await c.call('Echo:secret', 3);
  assert.ok(isException(secret));
  assert.match(secret.fields.get(1) ?? '', /^FORBIDDEN: /);
  assert.ok(
    !peer.requests.some((x) => x.req.method === 'Echo:whoami' || x.req.method === 'Echo:secret'),
    'refused calls never reach the peer',
  );
  // An unknown method before login closes the connection at once (client.md §9.3), once the broker
  // is past its warm-up (5 heartbeats in which an unknown method may be a route not learnt yet).
  await until('the broker past its warm-up', () => Date.now() - brokerReadyAt > 5 * HEARTBEAT_MS, 60_000, 50);
  c.send('Echo:nope', 4);
  await c.waitClosed(5000);
});

test('the peer logs a connection in with an auth directive, and pushes to the session via its broker', async () => {
  const bob = await client();
  const login = await bob.call('Echo:login', 1, [[1, 'bob']]);
  assert.ok(isReply(login));
  assert.equal(login.fields.get(0), 'sess-bob');
  const who = await bob.call('Echo:whoami', 2);
  assert.ok(isReply(who), `whoami after login: ${who.fields.get(1)}`);
  assert.equal(who.fields.get(0), 'u-bob|bob|sess-bob');

  // pushes are written to a connection that asked for them (docs/pushes.md)
  const sub = await bob.call('Events:subscribe', 9);
  // with no arguments at all (afterSeq left out: from the start); field 0 is the PushBatch, 1 an error
  assert.ok(isReply(sub) && sub.structs.has(0), `Events:subscribe answered ${JSON.stringify([...sub.structs])}`);
  const done = await bob.call('Echo:notify', 3, [[1, 'ping!']]);
  assert.ok(isReply(done));
  const push = await bob.next('the Events:echoed push', (m) => m.type === thrift.Thrift.MessageType.ONEWAY);
  assert.equal(push.name, 'Events:echoed');
  assert.equal(push.seqid, 0);
  assert.equal(push.fields.get(1), 'ping!');

  // A binary client gets the (compact) push converted to binary by the broker.
  const dan = await client('binary');
  assert.ok(isReply(await dan.call('Echo:login', 1, [[1, 'dan']])));
  assert.ok((await dan.call('Events:subscribe', 9)).structs.has(0), 'Events:subscribe in binary');
  assert.ok(isReply(await dan.call('Echo:notify', 2, [[1, 'to binary']])));
  const pushB = await dan.next('a push in binary', (m) => m.type === thrift.Thrift.MessageType.ONEWAY);
  assert.equal(pushB.name, 'Events:echoed');
  assert.equal(pushB.fields.get(1), 'to binary');

  // One live connection per session: logging into sess-bob elsewhere kicks the first connection.
  const bob2 = await client();
  assert.ok(isReply(await bob2.call('Echo:login', 1, [[1, 'bob']])));
  const kicked = await bob.next('Events:kicked', (m) => m.name === 'Events:kicked');
  assert.equal(kicked.type, thrift.Thrift.MessageType.ONEWAY);
  assert.equal(kicked.fields.get(1), 'session resumed on another connection');
  await bob.waitClosed(5000);
  // a subscription belongs to a connection: the new one asks for pushes too
  assert.ok((await bob2.call('Events:subscribe', 3)).structs.has(0), 'Events:subscribe on the new connection');
  assert.ok(isReply(await bob2.call('Echo:notify', 2, [[1, 'still here']])));
  assert.equal(
    (await bob2.next('push on the new connection', (m) => m.name === 'Events:echoed')).fields.get(1),
    'still here',
  );
});

test('drain, expiry after 2.5 heartbeat intervals of silence, and re-registration on `unknown`', async () => {
  const c = await client();
  const echo = async (seqid: number): Promise<Received> => c.call('Echo:echo', seqid, [[1, 'x']]);
  let seq = 100;

  // Drained: the only instance takes no new work; the service stays known (UNAVAILABLE).
  let from = yellow.events.length;
  assert.equal((await yellow.ask('drain', { instanceId: peer.instanceId, draining: true })).found, true);
  await yellow.event(
    'draining',
    (e) => e.type === 'draining' && e.instanceId === peer.instanceId && e.draining === true,
    2000,
    from,
  );
  const refused = await until(
    'the broker to stop routing to the drained peer',
    async () => {
      const r = await echo(++seq);
      return isException(r) ? r : undefined;
    },
    5000,
  );
  assert.match(refused.fields.get(1) ?? '', withTrace('UNAVAILABLE: Echo has no live instance'));
  assert.equal((await yellow.ask('drain', { instanceId: peer.instanceId, draining: false })).found, true);
  await until('routing again after undrain', async () => (isReply(await echo(++seq)) ? true : undefined), 5000);

  // Silent: down with reason `expired` 2.5 to 2.75 intervals after the last heartbeat (plus scheduling slack).
  from = yellow.events.length;
  peer.stopHeartbeats();
  const silentSince = peer.lastHeartbeatSent;
  await yellow.event(
    'down/expired',
    (e) => e.type === 'down' && e.instanceId === peer.instanceId && e.reason === 'expired',
    10 * HEARTBEAT_MS,
    from,
  );
  const silentFor = Date.now() - silentSince;
  assert.ok(silentFor >= 2.5 * HEARTBEAT_MS, `expired after ${silentFor} ms of silence, before 2.5 intervals`);
  const gone = await until(
    'the broker to drop the expired peer',
    async () => {
      const r = await echo(++seq);
      return isException(r) ? r : undefined;
    },
    5000,
  );
  assert.match(gone.fields.get(1) ?? '', withTrace('UNAVAILABLE: Echo has no live instance'));

  // Heartbeats again: Yellow answers `unknown`, the peer registers again and is routed to.
  from = yellow.events.length;
  peer.startHeartbeats();
  await yellow.event(
    'up after re-registration',
    (e) => e.type === 'up' && e.instance?.instanceId === peer.instanceId,
    5000,
    from,
  );
  assert.ok(peer.heartbeatStatuses.includes('unknown'));
  const back = await until(
    'routing after re-registration',
    async () => {
      const r = await echo(++seq);
      return isReply(r) ? r : undefined;
    },
    5000,
  );
  assert.equal(back.fields.get(0), 'x');
});

test('the peer met nothing it could not handle', () => {
  assert.deepEqual(peer.errors, []);
});

test('the peer is written from the documents alone: no repository wire, Yellow, RPC or service code', () => {
  const peerDir = join(__dirname, '..', 'support', 'spec-peer');
  const peerFiles = readdirSync(peerDir)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(peerDir, f));
  // The test itself may also use the process harness (spawning noon, waiting): not part of the peer.
  const harness = ['wait', 'yellow-harness'].map((f) => join(__dirname, '..', 'support', f));
  const outside: string[] = [];
  const packages = new Set<string>();
  for (const file of [__filename, ...peerFiles]) {
    // every import statement, also one that spans several lines
    for (const m of readFileSync(file, 'utf8').matchAll(/^import\b[^;]*?\bfrom '([^']+)';/gm)) {
      const from = m[1] as string;
      if (!from.startsWith('.')) {
        packages.add(from);
        continue;
      }
      const target = resolve(dirname(file), from);
      const allowed = target.startsWith(peerDir + sep) || (file === __filename && harness.includes(target));
      if (!allowed) outside.push(`${file}: ${from}`);
    }
  }
  assert.deepEqual(outside, []);
  assert.ok(peerFiles.length >= 4, 'the peer files were found');
  assert.ok(packages.has('zeromq') && packages.has('thrift'));
});
