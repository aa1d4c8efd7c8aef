/**
 * Traces across hops, end to end: a real broker and the real sso and player services (PGlite)
 * export OpenTelemetry spans to an OTLP/HTTP receiver in this process. One client call,
 * Sso:register (whose handler calls Player:createProfile), is one trace of five spans with the
 * right parents: broker SERVER -> broker CLIENT -> sso SERVER -> sso CLIENT -> player SERVER.
 * Errors the broker answers carry the trace id in their message, and it is the id of the spans
 * and of the info line the broker writes for the failed call; a slow call is logged at info with
 * its trace id.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { NoonClient } from '../../client';
import { openDb } from '../../shared/data/db';
import { migrate } from '../../shared/data/migrate';
import type { Db } from '../../shared/data/sql';
import { createSsoModule } from '../../services/sso/module';
import { playerModule } from '../../services/player/module';
import { startBrokerCluster, type BrokerCluster } from '../support/broker-cluster';
import { OtlpReceiver, SPAN_KIND, STATUS_ERROR, type ReceivedSpan } from '../support/otlp-receiver';
import { TRACE_SUFFIX } from '../support/traced';
import { until } from '../support/wait';

interface LogLine {
  level: number;
  msg: string;
  role?: string;
  trace?: string;
  method?: string;
  outcome?: string;
  ms?: number;
}

const lines: LogLine[] = [];
const logger = pino(
  { level: 'info' },
  new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as LogLine);
      done();
    },
  }),
);

let db: Db;
let receiver: OtlpReceiver;
let cluster: BrokerCluster;
let client: NoonClient;
const savedDelay = process.env.OTEL_BSP_SCHEDULE_DELAY;

before(async () => {
  // The SDK's own variable: batches go every 100 ms instead of every 5 s.
  process.env.OTEL_BSP_SCHEDULE_DELAY = '100';
  receiver = await new OtlpReceiver().start();
  db = await openDb({ logger });
  const sso = createSsoModule({ scryptN: 1024 });
  await migrate(db, 'sso', sso.migrations);
  await migrate(db, 'player', playerModule.migrations);
  cluster = await startBrokerCluster({
    modules: [{ module: sso }, { module: playerModule }],
    db,
    logger,
    // every call through the broker and two services takes more than 1 ms: each is "slow"
    config: { otlpEndpoint: receiver.url, slowCallMs: 1 },
  });
  client = await NoonClient.connect({ tcp: cluster.brokers[0]!.endpoints.tcp }, { reconnect: false });
  await until('the broker routes to Sso', () =>
    client.sso.ping().then(
      () => true,
      () => false,
    ),
  );
});

after(async () => {
  client?.close();
  await cluster?.stop();
  await db?.close();
  await receiver?.stop();
  if (savedDelay === undefined) delete process.env.OTEL_BSP_SCHEDULE_DELAY;
  else process.env.OTEL_BSP_SCHEDULE_DELAY = savedDelay;
});

/** The one span of `trace` made by `service` of this kind and name. */
function one(spans: ReceivedSpan[], service: string, kind: number, name: string): ReceivedSpan {
  const found = spans.filter((s) => s.service === service && s.kind === kind && s.name === name);
  assert.equal(found.length, 1, `one ${service} span ${name} of kind ${kind}: ${JSON.stringify(spans)}`);
  return found[0] as ReceivedSpan;
}

function traceOf(err: unknown): string {
  const m = TRACE_SUFFIX.exec((err as Error).message);
  assert.ok(m, `the message carries the trace id: ${(err as Error).message}`);
  return m[1] as string;
}

test('one call through the broker and two services is one trace: five spans, each the child of the hop before', async () => {
  const name = `traced_${process.pid}`;
  const session = await client.sso.register(name, 'correct horse 1');
  // The broker's SERVER span of this call: the only Sso/register root span so far.
  const root = await until('the broker span of Sso:register', () =>
    receiver.spans.find((s) => s.service === 'broker' && s.name === 'Sso/register' && s.kind === SPAN_KIND.SERVER),
  );
  const spans = await until('five spans in its trace', () => {
    const t = receiver.trace(root.traceId);
    return t.length >= 5 && t;
  });
  assert.equal(spans.length, 5, JSON.stringify(spans));
  assert.match(root.traceId, /^[0-9a-f]{32}$/);
  assert.equal(root.parentSpanId, '', 'the broker span starts the trace');
  const toSso = one(spans, 'broker', SPAN_KIND.CLIENT, 'Sso/register');
  const sso = one(spans, 'sso', SPAN_KIND.SERVER, 'Sso/register');
  const toPlayer = one(spans, 'sso', SPAN_KIND.CLIENT, 'Player/createProfile');
  const player = one(spans, 'player', SPAN_KIND.SERVER, 'Player/createProfile');
  assert.equal(toSso.parentSpanId, root.spanId);
  assert.equal(sso.parentSpanId, toSso.spanId);
  assert.equal(toPlayer.parentSpanId, sso.spanId);
  assert.equal(player.parentSpanId, toPlayer.spanId);
  assert.equal(new Set(spans.map((s) => s.spanId)).size, 5, 'five distinct spans');

  for (const s of spans) {
    assert.equal(s.attributes['rpc.system'], 'noon', s.name);
    assert.equal(s.attributes['noon.outcome'], 'ok', s.name);
    assert.notEqual(s.status.code, STATUS_ERROR, s.name);
    assert.equal(typeof s.attributes['noon.request.bytes'], 'number', s.name);
    assert.equal(typeof s.attributes['noon.reply.bytes'], 'number', s.name);
  }
  assert.deepEqual([root.attributes['rpc.service'], root.attributes['rpc.method']], ['Sso', 'register']);
  assert.deepEqual([player.attributes['rpc.service'], player.attributes['rpc.method']], ['Player', 'createProfile']);
  assert.equal(toSso.attributes['noon.instance'], cluster.services[0]!.env.instanceId);
  assert.equal(toSso.attributes['noon.attempt'], 1);
  assert.equal(root.attributes['noon.user'], undefined, 'the client was not logged in yet');
  assert.ok(Number(root.attributes['noon.request.bytes']) > name.length);

  // A logged-in call carries the user id (and nothing else of the session) on the broker span.
  await client.player.getProfile();
  const profile = await until('the broker span of Player:getProfile', () =>
    receiver.spans.find((s) => s.service === 'broker' && s.name === 'Player/getProfile' && s.kind === SPAN_KIND.SERVER),
  );
  assert.equal(profile.attributes['noon.user'], session.userId);
  assert.equal(
    Object.keys(profile.attributes).some((k) => /session|token|name/i.test(k)),
    false,
    Object.keys(profile.attributes).join(),
  );

  // Slow (over 1 ms), so logged at info with the trace id: by the broker for the whole call,
  // by each service for its handler.
  for (const role of ['broker', 'sso'])
    assert.ok(
      lines.some((l) => l.level === 30 && l.msg === 'slow call' && l.role === role && l.trace === root.traceId),
      `${role} logged the slow call with trace ${root.traceId}`,
    );
  const brokerLine = lines.find((l) => l.role === 'broker' && l.msg === 'slow call' && l.trace === root.traceId);
  assert.equal(brokerLine?.method, 'Sso:register');
  assert.equal(brokerLine?.outcome, 'ok');
  assert.ok((brokerLine?.ms ?? 0) >= 1);
});

test('an error the broker answers carries the trace id of its spans and of its info line', async () => {
  const anon = await NoonClient.connect({ tcp: cluster.brokers[0]!.endpoints.tcp }, { reconnect: false });
  try {
    const refused = await anon.player.getProfile().then(
      () => assert.fail('an anonymous getProfile must be refused'),
      (err: unknown) => err,
    );
    assert.match((refused as Error).message, /^UNAUTHENTICATED: .+ \(trace [0-9a-f]{32}\)$/);
    const trace = traceOf(refused);
    const spans = await until('the span of the refused call', () => {
      const t = receiver.trace(trace);
      return t.length > 0 && t;
    });
    assert.equal(spans.length, 1, 'refused at the broker: no service was called');
    const [span] = spans as [ReceivedSpan];
    assert.equal(span.name, 'Player/getProfile');
    assert.equal(span.status.code, STATUS_ERROR);
    assert.equal(span.attributes['noon.outcome'], 'UNAUTHENTICATED');
    assert.equal(span.attributes['error.type'], 'UNAUTHENTICATED');
    const line = lines.find((l) => l.role === 'broker' && l.trace === trace);
    assert.deepEqual([line?.level, line?.msg, line?.outcome], [30, 'call failed', 'UNAUTHENTICATED']);

    // Refused by the service (a NUL in a string argument): a message the service wrote into its
    // reply reaches the client untouched; the broker's spans and the service's say what happened.
    const bad = await anon.sso.register('nul\u0000name', 'correct horse 1').then(
      () => assert.fail('a NUL in the name must be refused'),
      (err: unknown) => err,
    );
    assert.equal((bad as Error).message, 'BAD_REQUEST: a string argument contains a NUL character');
    const refusedRegister = await until('the broker span of the refused register', () =>
      receiver.spans.find(
        (s) => s.service === 'broker' && s.name === 'Sso/register' && s.attributes['noon.outcome'] === 'BAD_REQUEST',
      ),
    );
    const badSpans = await until('three spans of the refused register', () => {
      const t = receiver.trace(refusedRegister.traceId);
      return t.length >= 3 && t;
    });
    assert.deepEqual(
      badSpans.map((s) => `${s.service} ${s.kind} ${String(s.attributes['noon.outcome'])} ${s.status.code}`).sort(),
      [
        `broker ${SPAN_KIND.CLIENT} BAD_REQUEST ${STATUS_ERROR}`,
        `broker ${SPAN_KIND.SERVER} BAD_REQUEST ${STATUS_ERROR}`,
        `sso ${SPAN_KIND.SERVER} BAD_REQUEST ${STATUS_ERROR}`,
      ].sort(),
    );
    const failedLine = lines.find((l) => l.role === 'broker' && l.trace === refusedRegister.traceId);
    assert.deepEqual([failedLine?.msg, failedLine?.outcome], ['call failed', 'BAD_REQUEST']);
  } finally {
    anon.close();
  }
});
