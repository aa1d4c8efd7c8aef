/**
 * A peer in another language, written from docs/ alone: test/support/spec-peer/peer.py (Python 3,
 * pyzmq, the Apache Thrift Python library) is an Echo service written from docs/protocol/*.md and
 * docs/security.md without the TypeScript implementation. Here it runs as its own process, the
 * way `noon start` runs roles by default: every internal socket over CURVE with a key of its role
 * (`echo`) in the keyring. It registers with the proof of its key in a real Yellow, a real broker
 * connects to it (its ZAP handler admits the broker key) and routes client calls to it, and the
 * clients get its answers, its errors, its login directive and its pushes. Yellow sees it come,
 * stay alive, expire when silent, come back, and leave when it stops.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as thrift from 'thrift';
import { cleanEnv, runNoon, tempDir } from '../support/cli-proc';
import { ROOT, TestProcess } from '../support/process';
import { Client, isException, isReply } from '../support/spec-peer/client';
import type { Proto } from '../support/spec-peer/wire';
import { YellowConn } from '../support/spec-peer/yellow';
import { kill, killAll, spawnNoon, type Child } from '../support/yellow-harness';
import { until } from '../support/wait';

/**
 * A broker's error message as docs/protocol/client.md §8 gives it: the message, then the call's
 * trace id, ` (trace <32 hex digits>)`.
 */
function withTrace(message: string): RegExp {
  return new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(trace [0-9a-f]{32}\\)$`);
}

/** Debian's interpreter, where python3-zmq and python3-thrift are installed (.ci/run). */
const PYTHON = '/usr/bin/python3';
const PEER_DIR = join(ROOT, 'test', 'support', 'spec-peer');
const HEARTBEAT_MS = 200;
const REQUEST_TIMEOUT_MS = 5000;
const STOP_GRACE_MS = 5000;
const SERVICE = {
  thriftService: 'Echo',
  methods: ['echo', 'login', 'whoami', 'notify', 'fail', 'secret'],
  publicMethods: ['echo', 'login', 'fail'],
  idempotentMethods: ['echo'],
  internalMethods: ['secret'],
  stateful: false,
};

type Line = Record<string, unknown>;

const data = tempDir('noon-py-peer-');
const keyDir = join(data.dir, 'keys');
const procs: Child[] = [];
const clients: Client[] = [];
let env: NodeJS.ProcessEnv;
let yellowProc: Child;
let brokerProc: Child;
let yellow: YellowConn;
let peer: TestProcess;
let peerId = '';
let brokerId = '';
let brokerTcp = '';

const keyOf = (role: string): { publicKey: string; secretKey: string } =>
  JSON.parse(readFileSync(join(keyDir, `${role}.key`), 'utf8')) as { publicKey: string; secretKey: string };

/** The peer's JSON lines (after `from`) with `event` equal to `event`. */
function lines(event: string, from = 0): Line[] {
  return peer.stdout
    .slice(from)
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line)
    .filter((l) => l.event === event);
}

function line(event: string, pred: (l: Line) => boolean, deadlineMs: number, from = 0): Promise<Line> {
  return peer.waitFor(`the peer line "${event}"`, () => lines(event, from).find(pred), deadlineMs);
}

async function client(protocol: Proto = 'compact'): Promise<Client> {
  const c = await Client.open(brokerTcp, protocol);
  clients.push(c);
  return c;
}

before(async () => {
  // No interpreter or no pyzmq/thrift fails the suite here; it never skips.
  const probe = spawnSync(PYTHON, ['-c', 'import zmq, thrift; assert zmq.has("curve"), "libzmq without CURVE"'], {
    encoding: 'utf8',
  });
  assert.equal(
    probe.status,
    0,
    `${PYTHON} with pyzmq (CURVE) and thrift is required (apt-get install python3-zmq python3-thrift): ${probe.error?.message ?? probe.stderr}`,
  );

  env = cleanEnv({
    NOON_HEARTBEAT_MS: String(HEARTBEAT_MS),
    NOON_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
    NOON_YELLOW_PORT: '0',
    NOON_BROKER_PORT: '0',
    NOON_BROKER_WS_PORT: '0',
    NOON_METRICS_PORT: '0',
    NOON_LOG_LEVEL: 'error',
    NOON_DATA_DIR: data.dir,
    NOON_CALLS_PER_SECOND: '1000',
  });
  // The default key directory of `noon start` (<data dir>/keys), with a key for the peer's role.
  const gen = await runNoon(
    ['keys', 'generate', '--dir', keyDir, '--roles', 'yellow,broker,brokerlist,operator,echo'],
    env,
  );
  assert.equal(gen.code, 0, gen.stderr);

  yellowProc = await spawnNoon(['start', 'yellow'], env as Record<string, string>);
  procs.push(yellowProc);
  const router = String(yellowProc.ready.router);
  const operator = keyOf('operator');
  yellow = new YellowConn(router, {
    curveServerKey: keyOf('yellow').publicKey,
    curvePublicKey: operator.publicKey,
    curveSecretKey: operator.secretKey,
  });
  const hello = await until('hello over CURVE', () => yellow.ask('hello', {}, 1000), 10_000);
  assert.equal(hello.ok, true);
  yellow.follow(String(hello.pub));
  // the SUB's subscription has reached the PUB once a tick arrives (yellow.md §5.2)
  await yellow.event('tick', (e) => e.type === 'tick', 10 * HEARTBEAT_MS);

  peer = new TestProcess(
    ['-B', join(PEER_DIR, 'peer.py')],
    {
      ...env,
      NOON_YELLOW: router,
      NOON_INTERNAL_KEY: join(keyDir, 'echo.key'),
      NOON_INTERNAL_KEYRING: join(keyDir, 'keyring.json'),
    },
    'python peer',
    { program: PYTHON, cwd: PEER_DIR },
  );
  const ready = await peer.ready(10_000, 'echo');
  peerId = String(ready.instanceId);
  await line('registered', () => true, 10_000);
  await yellow.event('up', (e) => e.type === 'up' && e.instance?.instanceId === peerId, 5000);

  brokerProc = await spawnNoon(['start', 'broker'], { ...env, NOON_YELLOW: router } as Record<string, string>);
  procs.push(brokerProc);
  brokerId = String(brokerProc.ready.instanceId);
  brokerTcp = String(brokerProc.ready.tcp);
  await line('connection', (l) => l.what === 'handshake', 10_000);
});

after(async () => {
  for (const c of clients) c.close();
  if (peer?.alive) await peer.stop('SIGKILL', STOP_GRACE_MS);
  yellow?.close();
  const deadline = setTimeout(() => killAll(), STOP_GRACE_MS);
  await Promise.all(procs.reverse().map((p) => kill(p, 'SIGTERM')));
  clearTimeout(deadline);
  data.remove();
});

test('Yellow lists the Python peer as registered, with its role key and without the proof', async () => {
  const q = await yellow.ask('query', { filter: { service: 'Echo' } });
  assert.equal(q.ok, true);
  const instances = q.instances as Line[];
  assert.equal(instances.length, 1);
  const rec = instances[0] as Line;
  assert.equal(rec.instanceId, peerId);
  assert.match(peerId, /^echo-\d+-[0-9a-f]{8}$/);
  assert.equal(rec.role, 'echo');
  assert.deepEqual(Object.keys(rec.endpoints as Line), ['router']);
  assert.deepEqual(rec.service, SERVICE);
  assert.equal(rec.curveKey, keyOf('echo').publicKey);
  assert.equal('proof' in rec, false);
  assert.equal(rec.draining, false);
  assert.ok(
    lines('heartbeat').every((l) => l.status === 'ok'),
    'every heartbeat so far answered ok',
  );
  assert.ok(lines('heartbeat').length > 0);
});

test("the peer's ZAP handler admitted the broker's key on its router, which is a CURVE server", () => {
  const zap = lines('zap');
  assert.ok(zap.length > 0, 'the handshake went through ZAP');
  for (const z of zap) {
    assert.equal(z.domain, 'noon.broker');
    assert.deepEqual(z.roles, ['broker']);
    assert.equal(z.admitted, true);
  }
  assert.deepEqual(
    lines('connection', 0).filter((l) => l.what === 'handshake-refused'),
    [],
  );
});

test('an anonymous compact client calls the Python peer through the broker', async () => {
  const c = await client();
  const r = await c.call('Echo:echo', 0, [[1, 'hello']]);
  assert.ok(isReply(r), `a REPLY, got type ${r.type}`);
  assert.equal(r.seqid, 0);
  assert.equal(r.name, 'echo');
  assert.equal(r.fields.get(0), 'hello');
  const seen = lines('request').find((l) => (l.args as Line)['1'] === 'hello') as Line;
  assert.ok(seen, 'the peer got the call');
  assert.equal(seen.sender, brokerId, 'the routing id is the broker instance id');
  assert.equal(seen.via, brokerId);
  assert.equal(seen.method, 'Echo:echo');
  assert.equal(seen.protocol, 'compact');
  assert.equal(seen.userId, '');
  assert.equal(seen.username, '');
  assert.match(String(seen.sessionId), new RegExp(`^anon:${brokerId}:`));
  assert.equal(seen.timeoutMs, REQUEST_TIMEOUT_MS);
  assert.equal(seen.clientRequestId, null, 'an anonymous call carries no clientRequestId');
});

test('pipelined calls come back matched by seqid; binary clients get binary replies', async () => {
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
  const b = await client('binary');
  const seen = peer.stdout.length;
  const r = await b.call('Echo:echo', 7, [[1, 'in binary']]);
  assert.ok(isReply(r));
  assert.equal(r.fields.get(0), 'in binary');
  // the reply can reach the client before the test has read the peer's line about the request
  const logged = await line('request', () => true, 5000, seen);
  assert.equal(logged.protocol, 'binary');
});

test("errors: the peer's error envelope and the broker's refusals reach the client as TApplicationException", async () => {
  const c = await client();
  const failed = await c.call('Echo:fail', 1);
  assert.ok(isException(failed));
  assert.match(failed.fields.get(1) ?? '', withTrace('NOT_FOUND: no such echo'));
  const whoami = await c.call('Echo:whoami', 2);
  assert.ok(isException(whoami));
  assert.match(whoami.fields.get(1) ?? '', withTrace('UNAUTHENTICATED: log in before calling Echo:whoami'));
  const secret = await c.call('Echo:secret', 3);
  assert.ok(isException(secret));
  assert.match(secret.fields.get(1) ?? '', /^FORBIDDEN: /);
  assert.ok(
    !lines('request').some((l) => l.method === 'Echo:whoami' || l.method === 'Echo:secret'),
    'refused calls never reach the peer',
  );
});

test('the peer logs a connection in with an auth directive and pushes to the session via its broker', async () => {
  const bob = await client();
  const login = await bob.call('Echo:login', 1, [[1, 'bob']]);
  assert.ok(isReply(login));
  assert.equal(login.fields.get(0), 'sess-bob');
  const who = await bob.call('Echo:whoami', 2);
  assert.ok(isReply(who), `whoami after login: ${who.fields.get(1)}`);
  assert.equal(who.fields.get(0), 'u-bob|bob|sess-bob');
  assert.ok((await bob.call('Events:subscribe', 9)).structs.has(0), 'Events:subscribe');
  const from = peer.stdout.length;
  assert.ok(isReply(await bob.call('Echo:notify', 3, [[1, 'ping!']])));
  const push = await bob.next('the Events:echoed push', (m) => m.type === thrift.Thrift.MessageType.ONEWAY);
  assert.equal(push.name, 'Events:echoed');
  assert.equal(push.seqid, 0);
  assert.equal(push.fields.get(1), 'ping!');
  const sent = await line('push', () => true, 1000, from);
  assert.deepEqual(sent, { event: 'push', sessionId: 'sess-bob', via: brokerId, name: 'Events:echoed' });

  // the compact push, converted to binary by the broker for a binary client
  const dan = await client('binary');
  assert.ok(isReply(await dan.call('Echo:login', 1, [[1, 'dan']])));
  assert.ok((await dan.call('Events:subscribe', 9)).structs.has(0));
  assert.ok(isReply(await dan.call('Echo:notify', 2, [[1, 'to binary']])));
  const pushB = await dan.next('a push in binary', (m) => m.type === thrift.Thrift.MessageType.ONEWAY);
  assert.equal(pushB.name, 'Events:echoed');
  assert.equal(pushB.fields.get(1), 'to binary');
});

test('silent, the peer expires in Yellow; heartbeating again, it is told `unknown`, registers and is routed to', async () => {
  const c = await client();
  let seq = 100;
  let from = yellow.events.length;
  let out = peer.stdout.length;
  peer.proc.kill('SIGUSR1');
  const paused = await line('heartbeats', (l) => l.paused === true, 2000, out);
  await yellow.event(
    'down/expired',
    (e) => e.type === 'down' && e.instanceId === peerId && e.reason === 'expired',
    10 * HEARTBEAT_MS,
    from,
  );
  const silentFor = Date.now() - Number(paused.lastSentAt);
  assert.ok(silentFor >= 2.5 * HEARTBEAT_MS, `expired after ${silentFor} ms of silence, before 2.5 intervals`);
  const gone = await until(
    'the broker to drop the expired peer',
    async () => {
      const r = await c.call('Echo:echo', ++seq, [[1, 'x']]);
      return isException(r) ? r : undefined;
    },
    5000,
  );
  assert.match(gone.fields.get(1) ?? '', withTrace('UNAVAILABLE: Echo has no live instance'));

  from = yellow.events.length;
  out = peer.stdout.length;
  peer.proc.kill('SIGUSR2');
  await line('heartbeat', (l) => l.status === 'unknown', 5000, out);
  await line('registered', () => true, 5000, out);
  await yellow.event('up again', (e) => e.type === 'up' && e.instance?.instanceId === peerId, 5000, from);
  const back = await until(
    'routing after re-registration',
    async () => {
      const r = await c.call('Echo:echo', ++seq, [[1, 'x']]);
      return isReply(r) ? r : undefined;
    },
    5000,
  );
  assert.equal(back.fields.get(0), 'x');
});

test('the peer met nothing it could not handle', () => {
  assert.deepEqual(lines('error'), []);
  assert.deepEqual(lines('dropped'), []);
  assert.deepEqual(lines('yellow-error'), []);
});

test('SIGTERM: the peer deregisters, Yellow publishes its `down`, and the broker stops routing to it', async () => {
  const from = yellow.events.length;
  const out = peer.stdout.length;
  const exit = await peer.stop('SIGTERM', STOP_GRACE_MS);
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.equal((await line('deregistered', () => true, 0, out)).found, true);
  await line('stopped', () => true, 0, out);
  const down = await yellow.event('down/deregistered', (e) => e.type === 'down' && e.instanceId === peerId, 2000, from);
  assert.equal(down.reason, 'deregistered');
  const q = await yellow.ask('query', { filter: { service: 'Echo' } });
  assert.deepEqual(q.instances, []);
  const c = await client();
  const r = await until(
    'the broker to forget the peer',
    async () => {
      const m = await c.call('Echo:echo', 1, [[1, 'x']]);
      return isException(m) ? m : undefined;
    },
    5000,
  );
  assert.match(r.fields.get(1) ?? '', withTrace('UNAVAILABLE: Echo has no live instance'));
});

test("the peer's proof and public keys match yellow.md §1.1's test vector", () => {
  const doc = readFileSync(join(ROOT, 'docs', 'protocol', 'yellow.md'), 'utf8');
  const row = (name: string): string => {
    const m = doc.match(new RegExp(`^\\| ${name} \\| \`([^\`]+)\` \\|$`, 'm'));
    assert.ok(m, `the vector's row "${name}"`);
    return m[1] as string;
  };
  const script = [
    'import sys, noon_curve',
    'k = noon_curve.Keys.__new__(noon_curve.Keys)',
    'k.secret, k.public, k.yellow = sys.argv[1:4]',
    'print(noon_curve.public_of(k.secret), noon_curve.public_of(sys.argv[4]), k.proof("echo-1", "echo"))',
  ].join('\n');
  const args = [
    row('registrant secretKey'),
    row('registrant publicKey \\(`curveKey`\\)'),
    row('Yellow publicKey'),
    row('Yellow secretKey'),
  ];
  const r = spawnSync(PYTHON, ['-B', '-c', script, ...args], { cwd: PEER_DIR, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split(' '), [args[1], args[2], row('`proof`')]);
});

test('the peer is written from the documents alone: Python standard library, pyzmq and thrift only', () => {
  const allowed = /^(json|os|secrets|signal|sys|time|struct|hashlib|hmac|zmq(\..+)?|thrift(\..+)?|noon_\w+)$/;
  const files = readdirSync(PEER_DIR).filter((f) => f.endsWith('.py'));
  assert.ok(files.includes('peer.py'));
  const modules = new Set<string>();
  for (const f of files) {
    for (const m of readFileSync(join(PEER_DIR, f), 'utf8').matchAll(/^(?:from (\S+) import|import (\S+))/gm)) {
      modules.add((m[1] ?? m[2]) as string);
    }
  }
  assert.deepEqual(
    [...modules].filter((m) => !allowed.test(m)),
    [],
  );
});
