import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../shared/config';
import { advertise, advertiseAll, bindHostOf } from '../../shared/endpoints';

test('NOON_BIND_HOST defaults to NOON_HOST, so one address still binds and advertises', () => {
  const cfg = loadConfig({}, {});
  assert.equal(cfg.bindHost, undefined);
  assert.equal(bindHostOf(cfg), '127.0.0.1');
  const moved = loadConfig({}, { NOON_HOST: '10.77.0.2' });
  assert.equal(bindHostOf(moved), '10.77.0.2');
});

test('NOON_BIND_HOST and NOON_HOST are separate: bind one address, advertise another', () => {
  const cfg = loadConfig({}, { NOON_BIND_HOST: '0.0.0.0', NOON_HOST: 'game-7.internal' });
  assert.equal(bindHostOf(cfg), '0.0.0.0');
  assert.equal(cfg.host, 'game-7.internal');
  assert.equal(bindHostOf(loadConfig({ bindHost: '10.0.0.5', host: '203.0.113.9' }, {})), '10.0.0.5');
});

test('a bad bind or advertised host fails at start naming the option', () => {
  for (const bad of ['localhost', 'eth0', '10.0.0', '::', '256.1.1.1', '10.0.0.1:80'])
    assert.throws(
      () => loadConfig({}, { NOON_BIND_HOST: bad }),
      (e: unknown) => e instanceof ConfigError && /--bind-host \/ NOON_BIND_HOST/.test(e.message),
      bad,
    );
  for (const bad of ['exa mple', 'host/path', 'a'.repeat(256), 'tcp://x'])
    assert.throws(
      () => loadConfig({}, { NOON_HOST: bad }),
      (e: unknown) => e instanceof ConfigError && /--host \/ NOON_HOST/.test(e.message),
      bad,
    );
});

test('advertise puts the advertised host into every endpoint form a listener reports', () => {
  assert.equal(advertise('tcp://0.0.0.0:41233', '10.77.0.3'), 'tcp://10.77.0.3:41233');
  assert.equal(advertise('0.0.0.0:7800', 'broker-1.example'), 'broker-1.example:7800');
  assert.equal(advertise('ws://10.0.0.5:7801', 'edge.example'), 'ws://edge.example:7801');
  assert.equal(advertise('https://0.0.0.0:7781', 'lb.example'), 'https://lb.example:7781');
  assert.equal(advertise('http://0.0.0.0:9100/metrics', '10.77.0.4'), 'http://10.77.0.4:9100/metrics');
  assert.equal(advertise('tcp://0.0.0.0:7700', '2001:db8::1'), 'tcp://[2001:db8::1]:7700');
  assert.equal(advertise('', '10.77.0.4'), '', 'no endpoint stays none');
  assert.deepEqual(advertiseAll({ tcp: '0.0.0.0:1', ws: 'ws://0.0.0.0:2' }, 'h'), { tcp: 'h:1', ws: 'ws://h:2' });
});
