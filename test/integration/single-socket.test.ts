/**
 * One live connection per session: resuming a session on a new connection
 * closes the old one, which first gets an Events:kicked push — on the same broker (the broker's
 * own rule) and across brokers (sso tells the session's previous broker).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Events } from '../../shared/protocol';
import { openDb } from '../../shared/data/db';
import { migrate } from '../../shared/data/migrate';
import { silentLogger } from '../../shared/log';
import { createSsoModule } from '../../services/sso/module';
import { playerModule } from '../../services/player/module';
import { fakeSso } from '../support/broker-fakes';
import { lbModule } from '../support/lb-module';
import { startBrokerCluster } from '../support/broker-cluster';
import { decodePush, rawClient } from '../support/raw-client';
import { until, within } from '../support/wait';

test('a resume on the same broker closes the old connection after telling it why', async () => {
  const cluster = await startBrokerCluster({ modules: [{ module: fakeSso }, { module: lbModule }] });
  try {
    const tcp = cluster.brokers[0]!.endpoints.tcp;
    const old = await rawClient(tcp);
    await until('broker routes to Sso', async () =>
      old.sso.ping().then(
        () => true,
        () => false,
      ),
    );
    const session = await old.sso.login('kim', 'pw-kim');
    const fresh = await rawClient(tcp);
    const resumed = await fresh.sso.resume(session.token as string);
    assert.equal(resumed.sessionId, session.sessionId);
    await within(old.closed, 3000, 'the old connection closed');
    assert.equal(old.pushes[0]?.name, 'Events:kicked');
    assert.match(decodePush(old.pushes[0]!.bytes, Events.KickedArgs).reason ?? '', /resumed on another connection/);
    assert.equal((await fresh.leaderboard.myRank('b')).userId, session.userId, 'the new connection serves the session');
    fresh.close();
  } finally {
    await cluster.stop();
  }
});

test('a resume on another broker closes the connection on the first one', async () => {
  const db = await openDb({ logger: silentLogger() });
  const sso = createSsoModule({ scryptN: 1024 });
  await migrate(db, 'sso', sso.migrations);
  await migrate(db, 'player', playerModule.migrations);
  const cluster = await startBrokerCluster({
    modules: [{ module: sso }, { module: playerModule }, { module: lbModule }],
    brokers: 2,
    db,
  });
  try {
    const [b1, b2] = cluster.brokers.map((b) => b.endpoints.tcp) as [string, string];
    const old = await rawClient(b1);
    await until('broker 1 routes to Sso', async () =>
      old.sso.ping().then(
        () => true,
        () => false,
      ),
    );
    const session = await old.sso.register('kai_1', 'password-kai');
    const fresh = await rawClient(b2);
    await until('broker 2 routes to Sso', async () =>
      fresh.sso.ping().then(
        () => true,
        () => false,
      ),
    );
    assert.equal((await fresh.sso.resume(session.token as string)).sessionId, session.sessionId);
    await within(old.closed, 5000, 'the first broker closed the old connection');
    assert.equal(old.pushes.at(-1)?.name, 'Events:kicked');
    assert.match(decodePush(old.pushes.at(-1)!.bytes, Events.KickedArgs).reason ?? '', /resumed on another broker/);
    fresh.close();
  } finally {
    await cluster.stop();
    await db.close();
  }
});
