/** What a failed command prints: the listener, store and address that failed, a stack only on request. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../shared/config';
import { describeFailure, explain } from '../../cli/errors';

const cfg = loadConfig(
  {
    brokerPort: 7801,
    brokerWsPort: 7802,
    metricsPort: 9100,
    pgUrl: 'postgres://app@db.local:5433/game',
    redis: 'redis://127.0.0.1:6390,redis://10.0.0.2',
  },
  {},
);

function sysErr(message: string, fields: Record<string, unknown>): Error {
  return Object.assign(new Error(message), fields);
}

const cases: { what: string; err: unknown; expect: RegExp | undefined }[] = [
  {
    what: 'a port clash of node names the port, the listener and its flag',
    err: sysErr('listen EADDRINUSE: address already in use 127.0.0.1:7802', {
      code: 'EADDRINUSE',
      address: '127.0.0.1',
      port: 7802,
    }),
    expect: /^port 7802 is already in use: the broker WS listener cannot bind 127\.0\.0\.1:7802 .*--broker-ws-port/,
  },
  {
    what: 'a port clash of ZeroMQ (the address as tcp://host:port) names Yellow',
    err: sysErr('Address already in use', { code: 'EADDRINUSE', address: 'tcp://127.0.0.1:7700' }),
    expect: /^port 7700 is already in use: the Yellow \(ZeroMQ ROUTER\) listener cannot bind 127\.0\.0\.1:7700/,
  },
  {
    what: 'the metrics port',
    err: sysErr('listen EADDRINUSE: address already in use 127.0.0.1:9100', { code: 'EADDRINUSE', port: 9100 }),
    expect: /the metrics \(\/metrics HTTP\) listener/,
  },
  {
    what: 'a port no option names still says the port',
    err: sysErr('x', { code: 'EADDRINUSE', address: '127.0.0.1', port: 4444 }),
    expect: /^port 4444 is already in use: cannot listen on 127\.0\.0\.1:4444$/,
  },
  {
    what: 'a refused Postgres says Postgres with host:port',
    err: sysErr('connect ECONNREFUSED 10.1.1.1:5433', { code: 'ECONNREFUSED', address: '10.1.1.1', port: 5433 }),
    expect: /^Postgres at db\.local:5433 \(--pg-url \/ NOON_PG_URL\) refused the connection/,
  },
  {
    what: 'localhost tried as ::1 then 127.0.0.1 (an AggregateError) is still Redis',
    err: new AggregateError(
      [
        sysErr('connect ECONNREFUSED ::1:6390', { code: 'ECONNREFUSED', address: '::1', port: 6390 }),
        sysErr('connect ECONNREFUSED 127.0.0.1:6390', { code: 'ECONNREFUSED', address: '127.0.0.1', port: 6390 }),
      ],
      '',
    ),
    expect: /^Redis at 127\.0\.0\.1:6390 \(--redis \/ NOON_REDIS\) refused the connection/,
  },
  {
    what: 'a Redis shard on the default port',
    err: sysErr('connect ECONNREFUSED 10.0.0.2:6379', { code: 'ECONNREFUSED', address: '10.0.0.2', port: 6379 }),
    expect: /^Redis at 10\.0\.0\.2:6379/,
  },
  {
    what: 'a host name that does not resolve, by its name',
    err: sysErr('getaddrinfo ENOTFOUND db.local', { code: 'ENOTFOUND', hostname: 'db.local' }),
    expect: /^Postgres at db\.local:5433 .* does not resolve/,
  },
  {
    what: 'a refused address no option names says the address',
    err: sysErr('connect ECONNREFUSED 10.9.9.9:80', { code: 'ECONNREFUSED', address: '10.9.9.9', port: 80 }),
    expect: /^10\.9\.9\.9:80 refused the connection/,
  },
  { what: 'an error we cannot name is left as it is', err: new Error('something else'), expect: undefined },
];

for (const c of cases)
  test(c.what, () => {
    const got = explain(c.err, cfg);
    if (c.expect === undefined) assert.equal(got, undefined);
    else assert.match(got ?? '', c.expect);
  });

test('no stack unless asked; the role first when a role failed', () => {
  const err = sysErr('connect ECONNREFUSED 127.0.0.1:6390', { code: 'ECONNREFUSED', address: '127.0.0.1', port: 6390 });
  const line = describeFailure(err, { stacks: false, cfg, role: 'sso' });
  assert.match(line, /^sso: Redis at 127\.0\.0\.1:6390/);
  assert.doesNotMatch(line, /\n\s+at /);
  assert.match(describeFailure(err, { stacks: true, cfg }), /\n\s+at /);
  assert.equal(describeFailure(new Error('plain'), { stacks: false }), 'plain');
});
