/**
 * The trace field of a request envelope: a W3C traceparent (version 00, and later versions read
 * as 00) or a bare trace id. Cases from the W3C Trace Context specification's examples and its
 * rules for invalid values; anything invalid is a bare id, never an error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTraceparent, newTraceId, parseTraceField, parseTraceparent } from '../../shared/trace/traceparent';
import { exportTarget } from '../../shared/trace/tracer';
import { ConfigError, loadConfig } from '../../shared/config';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

test('a traceparent is written as version 00 with the sampled flag, and read back', () => {
  assert.equal(formatTraceparent({ traceId: TRACE, spanId: SPAN, sampled: true }), `00-${TRACE}-${SPAN}-01`);
  assert.equal(formatTraceparent({ traceId: TRACE, spanId: SPAN, sampled: false }), `00-${TRACE}-${SPAN}-00`);
  for (const sampled of [true, false])
    assert.deepEqual(parseTraceparent(formatTraceparent({ traceId: TRACE, spanId: SPAN, sampled })), {
      traceId: TRACE,
      spanId: SPAN,
      sampled,
    });
});

test('the sampled flag is bit 0 of the flags; other bits do not matter', () => {
  assert.equal(parseTraceparent(`00-${TRACE}-${SPAN}-03`)?.sampled, true);
  assert.equal(parseTraceparent(`00-${TRACE}-${SPAN}-02`)?.sampled, false);
});

test('a later version is read as 00: its first four fields, then anything after a dash', () => {
  assert.deepEqual(parseTraceparent(`01-${TRACE}-${SPAN}-01`), { traceId: TRACE, spanId: SPAN, sampled: true });
  assert.deepEqual(parseTraceparent(`cc-${TRACE}-${SPAN}-01-what-the-future-holds`), {
    traceId: TRACE,
    spanId: SPAN,
    sampled: true,
  });
  assert.equal(parseTraceparent(`cc-${TRACE}-${SPAN}-01x`), undefined, 'more without a dash');
});

test('invalid traceparents are refused', () => {
  const invalid: [string, string][] = [
    [`ff-${TRACE}-${SPAN}-01`, 'version ff'],
    [`00-${TRACE}-${SPAN}-01-extra`, 'version 00 with more after it'],
    [`00-${'0'.repeat(32)}-${SPAN}-01`, 'all-zero trace id'],
    [`00-${TRACE}-${'0'.repeat(16)}-01`, 'all-zero span id'],
    [`00-${TRACE.toUpperCase()}-${SPAN}-01`, 'upper-case hex'],
    [`00-${TRACE.slice(1)}-${SPAN}-01`, 'a short trace id'],
    [`00-${TRACE}-${SPAN}-0g`, 'flags not hex'],
    [`00_${TRACE}_${SPAN}_01`, 'wrong separators'],
    [TRACE, 'a bare trace id'],
    ['', 'empty'],
  ];
  for (const [value, why] of invalid) assert.equal(parseTraceparent(value), undefined, why);
});

test('a trace field is a traceparent (id and parent) or, whatever else it holds, a bare id', () => {
  assert.deepEqual(parseTraceField(`00-${TRACE}-${SPAN}-01`), {
    traceId: TRACE,
    parent: { traceId: TRACE, spanId: SPAN, sampled: true },
  });
  for (const bare of [TRACE, 'duel-settle-42', '', `ff-${TRACE}-${SPAN}-01`, '\u0000nul'])
    assert.deepEqual(parseTraceField(bare), { traceId: bare });
});

test('new trace ids are 32 lower-case hex digits, and differ', () => {
  const ids = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const id = newTraceId();
    assert.match(id, /^[0-9a-f]{32}$/);
    assert.notEqual(id, '0'.repeat(32));
    ids.add(id);
  }
  assert.equal(ids.size, 1000);
});

test('spans are exported to --otlp-endpoint (+ /v1/traces), else where the standard variables say, else nowhere', () => {
  assert.deepEqual(exportTarget('http://collector:4318', {}), { url: 'http://collector:4318/v1/traces' });
  assert.deepEqual(exportTarget('http://collector:4318/', {}), { url: 'http://collector:4318/v1/traces' });
  assert.deepEqual(exportTarget(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }), { url: undefined });
  assert.deepEqual(exportTarget(undefined, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' }), {
    url: undefined,
  });
  assert.equal(exportTarget(undefined, {}), undefined);
  assert.equal(exportTarget('http://collector:4318', { OTEL_SDK_DISABLED: 'true' }), undefined);
});

test('the trace options are validated with errors naming them', () => {
  assert.equal(loadConfig({}, {}).slowCallMs, 500);
  assert.equal(loadConfig({}, { NOON_SLOW_CALL_MS: '0' }).slowCallMs, 0);
  assert.throws(
    () => loadConfig({}, { NOON_SLOW_CALL_MS: 'soon' }),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.message === 'config option --slow-call-ms / NOON_SLOW_CALL_MS: expected an integer, got "soon"',
  );
  assert.throws(
    () => loadConfig({ slowCallMs: -1 }, {}),
    /--slow-call-ms \/ NOON_SLOW_CALL_MS: -1 is below the minimum 0/,
  );
  assert.equal(
    loadConfig({}, { NOON_OTLP_ENDPOINT: 'https://otel.example:4318' }).otlpEndpoint,
    'https://otel.example:4318',
  );
  for (const bad of ['otel.example:4318', 'grpc://otel.example:4317', 'http://otel.example:4318?x=1'])
    assert.throws(
      () => loadConfig({}, { NOON_OTLP_ENDPOINT: bad }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.message.startsWith(
          `config option --otlp-endpoint / NOON_OTLP_ENDPOINT: ${JSON.stringify(bad)} is not an http:// or https:// URL`,
        ),
      bad,
    );
});
