import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as thrift from 'thrift';
import Int64 from 'node-int64';
import { Events, Leaderboard, MatchStatus } from '../../shared/protocol';
import { lbModule } from '../support/lb-module';
import { fakeDuel, fakeSso } from '../support/broker-fakes';
import { startBrokerCluster, type BrokerCluster } from '../support/broker-cluster';
import { decodePush, rawClient } from '../support/raw-client';
import { until } from '../support/wait';

let cluster: BrokerCluster;
let tcp: string;

before(async () => {
  cluster = await startBrokerCluster({
    modules: [{ module: fakeSso }, { module: fakeDuel, count: 2 }, { module: lbModule, count: 2 }],
    config: { callsPerSecond: 100_000 },
  });
  tcp = cluster.brokers[0]!.endpoints.tcp;
  const c = await rawClient(tcp);
  // wait until the broker routes to every service (its Yellow watcher fills in the background)
  await until(
    'broker routes to Duel',
    async () =>
      await c.duel.ping().then(
        () => true,
        () => false,
      ),
  );
  c.close();
});
after(() => cluster?.stop());

test('before login only public methods pass; after login calls are routed', async () => {
  const c = await rawClient(tcp);
  try {
    assert.equal((await c.leaderboard.top('b', 1)).length, 1);
    await assert.rejects(c.leaderboard.myRank('b'), (e: Error) =>
      /^UNAUTHENTICATED: log in before calling Leaderboard:myRank/.test(e.message),
    );
    await assert.rejects(
      c.sso.login('ann', 'nope'),
      (e: Error & { code?: number }) => e.message === 'wrong username or password',
    );
    const s = await c.sso.login('ann', 'pw-ann');
    assert.equal(s.userId, 'u-ann');
    const r = await c.leaderboard.myRank('b');
    assert.equal(r.userId, 'u-ann');
  } finally {
    c.close();
  }
});

test('a stateful session stays on one instance for 1,000 calls; different sessions spread', async () => {
  const seen = new Set<string>();
  const owners = new Set<string>();
  for (let u = 0; u < 8; u++) {
    const c = await rawClient(tcp);
    await c.sso.login(`p${u}`, `pw-p${u}`);
    const mine = new Set<string>();
    const n = u === 0 ? 1000 : 20;
    for (let i = 0; i < n; i++) mine.add((await c.duel.ping()).instance ?? '');
    assert.equal(mine.size, 1, `session ${u} moved between ${[...mine].join(', ')}`);
    owners.add([...mine][0] as string);
    seen.add([...mine][0] as string);
    c.close();
  }
  assert.equal(owners.size, 2, 'eight sessions use both duel instances');
});

test('a push from a service reaches the session on its connection', async () => {
  const c = await rawClient(tcp);
  try {
    await c.sso.login('bob', 'pw-bob');
    const ticket = await c.duel.findMatch(new Int64(10));
    assert.equal(ticket.status, MatchStatus.MATCHED);
    await until('matchFound push', () => c.pushes.length > 0, 3000);
    assert.equal(c.pushes[0]?.name, 'Events:matchFound');
    const args = decodePush(c.pushes[0]!.bytes, Events.MatchFoundArgs);
    assert.equal(args.ticket?.duelId, ticket.duelId);
  } finally {
    c.close();
  }
});

test('a client built on the thrift package (framed transport, multiplexed protocol) works in compact and binary', async () => {
  for (const protocol of [thrift.TCompactProtocol, thrift.TBinaryProtocol]) {
    const [host, port] = tcp.split(':');
    const connection = thrift.createConnection(host as string, Number(port), {
      transport: thrift.TFramedTransport,
      protocol,
    });
    connection.on('error', () => undefined);
    await new Promise<void>((resolve) => connection.once('connect', () => resolve()));
    const mux = new thrift.Multiplexer();
    const lb = mux.createClient(
      'Leaderboard',
      Leaderboard.Client as unknown as thrift.TClientConstructor<Leaderboard.Client>,
      connection,
    );
    const top = await lb.top('b', 3);
    assert.equal(top.length, 1);
    assert.equal(top[0]?.username, 'b');
    connection.end();
  }
});
