import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupRedisUrls, parseRedisList, parseShardUrl } from '../../shared/data/redis-url';
import { ConfigError, loadConfig } from '../../shared/config';

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

const CLUSTER_URLS: { url: string; want: Record<string, unknown> }[] = [
  {
    url: 'redis-cluster://10.0.0.1:7000,10.0.0.2:7001',
    want: {
      kind: 'cluster',
      id: 'redis-cluster://10.0.0.1:7000,10.0.0.2:7001',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
      ],
      tls: false,
    },
  },
  {
    url: 'rediss-cluster://app:s%40cret@c.example:6380,d.example/0',
    want: {
      kind: 'cluster',
      id: 'rediss-cluster://c.example:6380,d.example:6379',
      nodes: [
        { host: 'c.example', port: 6380 },
        { host: 'd.example', port: 6379 },
      ],
      tls: true,
      username: 'app',
      password: 's@cret',
    },
  },
  {
    url: 'redis-cluster://:pw@[::1]:7000/',
    want: {
      kind: 'cluster',
      id: 'redis-cluster://::1:7000',
      nodes: [{ host: '::1', port: 7000 }],
      tls: false,
      username: undefined,
      password: 'pw',
    },
  },
];

for (const { url, want } of CLUSTER_URLS) {
  test(`cluster URL ${url}`, () => {
    const t = parseShardUrl(url);
    assert.deepEqual({ ...t }, want);
  });
}

const BAD_CLUSTER_URLS: { url: string; error: RegExp }[] = [
  { url: 'redis-cluster://h:7000/2', error: /db 2 \(the \/2 after the hosts\): Redis Cluster has database 0 only/ },
  { url: 'redis-cluster://h:7000/x', error: /bad db number "x"/ },
  { url: 'redis-cluster://h:7000,h:7000', error: /node h:7000 is listed twice/ },
  { url: 'redis-cluster://h:0', error: /bad port/ },
  { url: 'redis-cluster://h:7000?tls=1', error: /expected redis:\/\/.*redis-cluster:\/\// },
  { url: 'redis-cluster://u:topsecret@h:7000/3', error: /^(?!.*topsecret).*database 0 only/ },
];

for (const { url, error } of BAD_CLUSTER_URLS) {
  test(`bad cluster URL ${url}`, () => assert.throws(() => parseShardUrl(url), error));
}

const LISTS: { items: string[]; want: string[] }[] = [
  { items: ['redis://a:1', 'redis://b:2'], want: ['redis://a:1', 'redis://b:2'] },
  { items: ['redis-cluster://a:1', 'b:2', ' c:3 '], want: ['redis-cluster://a:1,b:2,c:3'] },
  { items: ['sentinel://s1:1', 's2:2/m', 'redis://r:3'], want: ['sentinel://s1:1,s2:2/m', 'redis://r:3'] },
  { items: ['', 'redis://a:1', ''], want: ['redis://a:1'] },
];

for (const { items, want } of LISTS) {
  test(`comma-split list ${JSON.stringify(items)} is rejoined`, () => assert.deepEqual(groupRedisUrls(items), want));
}

test('a cluster URL must be the only one of its list', () => {
  assert.equal(parseRedisList(['redis-cluster://a:1', 'b:2'])[0]?.kind, 'cluster');
  assert.throws(
    () => parseRedisList(['redis-cluster://a:1,b:2', 'redis://c:3']),
    /redis-cluster:\/\/a:1,b:2 must be the only Redis URL/,
  );
  assert.throws(() => parseRedisList(['redis://a:1', 'b:2']), /several hosts need sentinel:\/\/ or redis-cluster:\/\//);
});

test('NOON_REDIS takes a cluster URL (its commas are hosts) and names the option on a bad one', () => {
  const cfg = loadConfig({}, { NOON_REDIS: 'redis-cluster://127.0.0.1:7000,127.0.0.1:7001' });
  assert.deepEqual(cfg.redis, ['redis-cluster://127.0.0.1:7000,127.0.0.1:7001']);
  assert.throws(
    () => loadConfig({}, { NOON_REDIS: 'redis-cluster://127.0.0.1:7000,127.0.0.1:7001/1' }),
    (e: Error) => e instanceof ConfigError && e.option === '--redis / NOON_REDIS' && /database 0 only/.test(e.message),
  );
  assert.throws(() => loadConfig({}, { NOON_REDIS: 'memcached://h:1' }), /--redis \/ NOON_REDIS.*expected redis:\/\//);
});
