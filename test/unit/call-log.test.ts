/**
 * The info lines of failed and slow calls (shared/trace/call-log.ts), and the tracer's lazy
 * load: with no endpoint configured no tracer exists and nothing of the OpenTelemetry SDK is
 * loaded; with one, the SDK is loaded then.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { CallLog } from '../../shared/trace/call-log';
import { openTracer } from '../../shared/trace/tracer';
import { silentLogger } from '../../shared/log';

function capture(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    }),
  );
  return { logger, lines };
}

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

test('a failed call and a slow one are logged at info with their trace id; a fast ok call is not', () => {
  const { logger, lines } = capture();
  const log = new CallLog(logger, { slowMs: 500 });
  log.after({ trace: TRACE, method: 'Player:getProfile', outcome: 'ok', ms: 499.9 });
  log.after({ trace: 'a'.repeat(32), method: 'Player:getProfile', outcome: 'ok', ms: 500 });
  log.after({ trace: 'b'.repeat(32), method: 'Player:grant', outcome: 'UNAVAILABLE', ms: 3, user: 'u1' });
  log.close();
  assert.deepEqual(
    lines.map((l) => [l.level, l.msg, l.trace, l.method, l.outcome, l.ms, l.user]),
    [
      [30, 'slow call', 'a'.repeat(32), 'Player:getProfile', 'ok', 500, undefined],
      [30, 'call failed', 'b'.repeat(32), 'Player:grant', 'UNAVAILABLE', 3, 'u1'],
    ],
  );
});

test('a threshold of 0 makes no call slow', () => {
  const { logger, lines } = capture();
  const log = new CallLog(logger, { slowMs: 0 });
  log.after({ trace: TRACE, method: 'Sso:login', outcome: 'ok', ms: 60_000 });
  log.close();
  assert.deepEqual(lines, []);
});

test('lines are limited per cause and interval; the rest are counted in one summary line', () => {
  const { logger, lines } = capture();
  const log = new CallLog(logger, { slowMs: 500, intervalMs: 60_000, perInterval: 3 });
  for (let i = 0; i < 10; i++) log.failed({ trace: TRACE, method: 'Duel:findMatch', outcome: 'BUSY', ms: 1 });
  log.failed({ trace: TRACE, method: 'Duel:findMatch', outcome: 'TIMEOUT', ms: 5000 });
  log.close();
  assert.equal(lines.filter((l) => l.msg === 'call failed' && l.outcome === 'BUSY').length, 3);
  assert.equal(lines.filter((l) => l.msg === 'call failed' && l.outcome === 'TIMEOUT').length, 1, 'another cause');
  const summary = lines.filter((l) => l.msg === 'call lines not logged (limit per cause per interval)');
  assert.deepEqual(
    summary.map((l) => [l.cause, l.suppressed]),
    [['call failed Duel:findMatch BUSY', 7]],
  );
});

test('without an endpoint there is no tracer and the SDK is not loaded; with one it is', async () => {
  const loaded = (): number => Object.keys(require.cache).filter((k) => k.includes('@opentelemetry/sdk-trace')).length;
  const who = { role: 'broker', instanceId: 'broker-1', version: 'test' };
  const none = await openTracer(who, { otlpEndpoint: undefined, env: {}, logger: silentLogger() });
  assert.equal(none, undefined);
  assert.equal(loaded(), 0, 'no SDK module loaded');
  const tracer = await openTracer(who, { otlpEndpoint: 'http://127.0.0.1:9', env: {}, logger: silentLogger() });
  assert.ok(tracer);
  assert.ok(loaded() > 0, 'the SDK is loaded once an endpoint is configured');
  const span = tracer.start('Player/getProfile', 'server', undefined, { 'rpc.system': 'noon' });
  assert.match(span.traceId, /^[0-9a-f]{32}$/);
  assert.match(span.traceparent, new RegExp(`^00-${span.traceId}-[0-9a-f]{16}-01$`));
  const child = tracer.start('Player/getProfile', 'client', span, {});
  assert.equal(child.traceId, span.traceId, 'a child is in its parent trace');
  const remote = tracer.start(
    'Player/getProfile',
    'server',
    { traceId: TRACE, spanId: '00f067aa0ba902b7', sampled: true },
    {},
  );
  assert.equal(remote.traceId, TRACE, 'a received parent names the trace');
  // None of these spans is ended, so nothing is exported to the (absent) collector.
  await tracer.shutdown();
});
