/**
 * The version gate on real processes: `noon up` with NOON_MIN_CLIENT_PROTOCOL=1, and a second
 * broker (`noon start broker`, same Yellow) that requires 2. A client that states no protocol
 * version (the bare generated Sso client, as an app built before the field existed) or one below
 * the minimum gets UPGRADE_REQUIRED naming the minimum, on register, login and resume alike, and
 * keeps its connection (no strike); the SDK, which states CLIENT_PROTOCOL, logs in and resumes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { NoonClient } from '../../client/client';
import { errorCode } from '../../client/errors';
import { CLIENT_PROTOCOL } from '../../shared/protocol';
import { cleanEnv, clusterFlags, NoonProc, tempDir } from '../support/cli-proc';
import { rawClient, type RawClient } from '../support/raw-client';
import { until } from '../support/wait';

const data = tempDir('noon-version-gate-');
let up: NoonProc | undefined;
let strictBroker: NoonProc | undefined;
let tcp = '';
let strictTcp = '';
const clients: Array<{ close(): void }> = [];

/** The rejection's stable code and message. */
async function refusal(call: Promise<unknown>): Promise<{ code: string | undefined; message: string }> {
  const err = await call.then(
    () => assert.fail('the call was expected to be refused'),
    (e: unknown) => e as Error,
  );
  return { code: errorCode(err), message: err.message };
}

async function raw(endpoint: string): Promise<RawClient> {
  const c = await rawClient(endpoint);
  clients.push(c);
  return c;
}

before(async () => {
  up = new NoonProc(['up', ...clusterFlags(data.dir), '--min-client-protocol', '1']);
  const ready = await up.waitFor('ready line', () => up?.jsonLine({ ready: 'up' }), 90_000);
  tcp = String((ready.broker as { tcp: string }).tcp);
  strictBroker = new NoonProc(
    ['start', 'broker', '--broker-port', '0', '--broker-ws-port', '0', '--heartbeat-ms', '200', '--metrics-port', '0'],
    // `noon up` is one plaintext process (docs/security.md): a broker joining it speaks plaintext too
    cleanEnv({
      NOON_YELLOW: String(ready.yellow),
      NOON_MIN_CLIENT_PROTOCOL: String(CLIENT_PROTOCOL + 1),
      NOON_INTERNAL_PLAINTEXT: '1',
    }),
  );
  strictTcp = String((await strictBroker.ready(60_000, 'broker')).tcp);
  // each broker routes to Sso (its Yellow watcher fills in the background)
  for (const endpoint of [tcp, strictTcp])
    await until(
      `${endpoint} routes to Sso`,
      async () => {
        const c = await rawClient(endpoint);
        try {
          return (await c.sso.ping()).serviceName === 'sso';
        } finally {
          c.close();
        }
      },
      60_000,
      100,
    );
});

after(async () => {
  for (const c of clients) c.close();
  await strictBroker?.stop('SIGTERM');
  await up?.stop('SIGINT');
  data.remove();
});

test('a client that states no version is refused with UPGRADE_REQUIRED naming the minimum, and keeps its connection', async () => {
  const old = await raw(tcp);
  const expected = {
    code: 'UPGRADE_REQUIRED',
    message:
      'UPGRADE_REQUIRED: this client states no client protocol version; this cluster requires at least 1: update the app',
  };
  assert.deepEqual(await refusal(old.sso.register('old-ann', 'a-long-password')), expected);
  assert.deepEqual(await refusal(old.sso.login('old-ann', 'a-long-password')), expected);
  assert.deepEqual(await refusal(old.sso.loginDevice('device-0123456789abcdef')), expected);
  assert.deepEqual(await refusal(old.sso.resume('t'.repeat(43))), expected);
  // four refusals, no strike: the connection is open and public calls still work
  assert.equal((await old.sso.ping()).serviceName, 'sso');
  assert.equal(old.socket.destroyed, false);
});

test('a client below the minimum is refused, naming its version and the minimum', async () => {
  const old = await raw(tcp);
  assert.deepEqual(await refusal(old.sso.register('old-bob', 'a-long-password', 0)), {
    code: 'UPGRADE_REQUIRED',
    message: 'UPGRADE_REQUIRED: this client states client protocol 0; this cluster requires at least 1: update the app',
  });
});

test('the SDK states its version: it registers, logs in and resumes; its token does not let an old client in', async () => {
  // a fixed broker: the BrokerList also lists the stricter one
  const sdk = await NoonClient.connect({ tcp }, { reconnect: false });
  clients.push(sdk);
  const registered = await sdk.sso.register('new-cat', 'a-long-password');
  assert.equal(registered.username, 'new-cat');
  const again = await NoonClient.connect({ tcp }, { reconnect: false });
  clients.push(again);
  const session = await again.sso.login('new-cat', 'a-long-password');
  assert.equal(session.userId, registered.userId);
  assert.equal((await again.player.getProfile()).userId, registered.userId, 'logged in: a non-public call works');
  const token = session.token ?? '';
  // the same token, resumed by a bare client stating no version, then stating the SDK's
  const bare = await raw(tcp);
  assert.equal((await refusal(bare.sso.resume(token))).code, 'UPGRADE_REQUIRED');
  assert.equal((await bare.sso.resume(token, CLIENT_PROTOCOL)).userId, registered.userId);
});

test("a broker requiring a newer protocol refuses the SDK's login, naming the minimum", async () => {
  const sdk = await NoonClient.connect({ tcp: strictTcp }, { reconnect: false });
  clients.push(sdk);
  assert.deepEqual(await refusal(sdk.sso.login('new-cat', 'a-long-password')), {
    code: 'UPGRADE_REQUIRED',
    message: `UPGRADE_REQUIRED: this client states client protocol ${CLIENT_PROTOCOL}; this cluster requires at least ${CLIENT_PROTOCOL + 1}: update the app`,
  });
  assert.equal(sdk.session, undefined);
});
