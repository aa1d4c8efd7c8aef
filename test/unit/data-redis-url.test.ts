import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseShardUrl } from '../../shared/data/redis-url';

test('redis:// URLs: host, port, db, credentials kept out of the id', () => {
  assert.deepEqual(parseShardUrl('redis://10.0.0.1:6380/2'), {
    kind: 'redis',
    id: 'redis://10.0.0.1:6380/2',
    host: '10.0.0.1',
    port: 6380,
    db: 2,
    tls: false,
  });
  const t = parseShardUrl('rediss://cache:s%40cret@r.example:6379');
  assert.equal(t.kind, 'redis');
  assert.equal(t.id, 'rediss://r.example:6379/0');
  assert.equal(t.password, 's@cret');
  assert.equal(t.username, 'cache');
  assert.equal(parseShardUrl('redis://h').id, 'redis://h:6379/0');
});

test('sentinel:// URLs name the sentinels and the master', () => {
  const t = parseShardUrl('sentinel://s1:26379,s2:26380/mymaster');
  assert.equal(t.kind, 'sentinel');
  if (t.kind !== 'sentinel') return;
  assert.deepEqual(t.sentinels, [
    { host: 's1', port: 26379 },
    { host: 's2', port: 26380 },
  ]);
  assert.equal(t.name, 'mymaster');
  assert.equal(t.id, 'sentinel://s1:26379,s2:26380/mymaster');
});

test('bad URLs are refused with a message that hides the password', () => {
  assert.throws(() => parseShardUrl('http://h:1'), /redis shard URL/);
  assert.throws(() => parseShardUrl('redis://h:99999'), /bad port/);
  assert.throws(() => parseShardUrl('redis://a:1,b:2'), /sentinel/);
  assert.throws(() => parseShardUrl('sentinel://s1:1'), /masterName/);
  assert.throws(
    () => parseShardUrl('redis://u:topsecret@h:1/x'),
    (e: Error) => !e.message.includes('topsecret'),
  );
});
