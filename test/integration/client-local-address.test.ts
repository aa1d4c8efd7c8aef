import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { connectTcp } from '../../client';
import { NoonClient } from '../../client';
import { fakeSso } from '../support/broker-fakes';
import { lbModule } from '../support/lb-module';
import { startBrokerCluster } from '../support/broker-cluster';
import { until } from '../support/wait';

test('a TCP transport binds the source address it is given (load tests spread over 127.0.0.x)', async () => {
  const seen: string[] = [];
  const server = createServer((s) => {
    seen.push(s.remoteAddress ?? '');
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  try {
    const t = await connectTcp(
      `127.0.0.1:${port}`,
      { message: () => undefined, close: () => undefined },
      { localAddress: '127.0.0.3' },
    );
    await until('the server saw the connection', () => seen.length > 0, 3000);
    assert.equal(seen[0], '127.0.0.3');
    t.close('done');
  } finally {
    server.close();
  }
});

test('an SDK client from 127.0.0.2 logs in and calls through a broker', async () => {
  const cluster = await startBrokerCluster({ modules: [{ module: fakeSso }, { module: lbModule }] });
  try {
    const c = await NoonClient.connect(
      { tcp: cluster.brokers[0]!.endpoints.tcp },
      { localAddress: '127.0.0.2', reconnect: false },
    );
    try {
      await until(
        'broker routes to Sso',
        async () =>
          c.sso.ping().then(
            () => true,
            () => false,
          ),
        5000,
      );
      await c.sso.login('la', 'pw-la');
      assert.equal((await c.leaderboard.myRank('b')).userId, 'u-la');
    } finally {
      c.close();
    }
  } finally {
    await cluster.stop();
  }
});
