/**
 * Spec of broker/client-version.ts: the version a session-opening call states, read from its
 * arguments in either protocol, and the verdict against the cluster's minimum.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as thrift from 'thrift';
import { checkClientProtocol, statedProtocol, type VersionVerdict } from '../../broker/client-version';
import { CLIENT_PROTOCOL, Sso } from '../../shared/protocol';
import { DEFAULT_CAPS } from '../../shared/thrift/capped';
import type { ThriftProtocol } from '../../shared/thrift/header';
import { buildMessage } from '../../shared/thrift/messages';

type Args = { write(out: thrift.TProtocol): void };

function call(name: string, args: Args, protocol: ThriftProtocol = 'compact'): Buffer {
  return buildMessage(protocol, (out) => {
    out.writeMessageBegin(name, thrift.Thrift.MessageType.CALL, 3);
    args.write(out);
    out.writeMessageEnd();
  });
}

const login = (clientProtocol?: number): Args =>
  new Sso.LoginArgs({
    username: 'ann',
    password: 'a-long-password',
    ...(clientProtocol === undefined ? {} : { clientProtocol }),
  });
const upgrade = (minimum: number, said: string): VersionVerdict => ({
  ok: false,
  code: 'UPGRADE_REQUIRED',
  detail: `this client ${said}; this cluster requires at least ${minimum}: update the app`,
});

describe('statedProtocol', () => {
  for (const protocol of ['compact', 'binary'] as const) {
    test(`reads clientProtocol after the other arguments (${protocol})`, () => {
      assert.equal(statedProtocol(call('Sso:login', login(7), protocol), DEFAULT_CAPS), 7);
      assert.equal(statedProtocol(call('Sso:login', login(), protocol), DEFAULT_CAPS), undefined);
      const resume = new Sso.ResumeArgs({ token: 't'.repeat(40), clientProtocol: 2 });
      assert.equal(statedProtocol(call('Sso:resume', resume, protocol), DEFAULT_CAPS), 2);
    });
  }
});

describe('checkClientProtocol', () => {
  const cases: { name: string; method: string; bytes: Buffer; minimum: number; expect: VersionVerdict }[] = [
    {
      name: 'no minimum: a client stating none logs in',
      method: 'Sso:login',
      bytes: call('Sso:login', login()),
      minimum: 0,
      expect: { ok: true },
    },
    {
      name: 'a minimum: a client stating none is refused, naming the minimum',
      method: 'Sso:login',
      bytes: call('Sso:login', login()),
      minimum: 2,
      expect: upgrade(2, 'states no client protocol version'),
    },
    {
      name: 'a client below the minimum is refused, naming both',
      method: 'Sso:login',
      bytes: call('Sso:login', login(1)),
      minimum: 2,
      expect: upgrade(2, 'states client protocol 1'),
    },
    {
      name: 'a client at the minimum logs in',
      method: 'Sso:login',
      bytes: call('Sso:login', login(2)),
      minimum: 2,
      expect: { ok: true },
    },
    {
      name: 'a newer client logs in',
      method: 'Sso:login',
      bytes: call('Sso:login', login(9)),
      minimum: 2,
      expect: { ok: true },
    },
    {
      name: 'resume is gated too (a reconnect of an old app)',
      method: 'Sso:resume',
      bytes: call('Sso:resume', new Sso.ResumeArgs({ token: 'tok' })),
      minimum: 1,
      expect: upgrade(1, 'states no client protocol version'),
    },
    {
      name: 'register and loginDevice are gated too',
      method: 'Sso:loginDevice',
      bytes: call('Sso:loginDevice', new Sso.LoginDeviceArgs({ deviceId: 'd'.repeat(20), clientProtocol: 0 })),
      minimum: 1,
      expect: upgrade(1, 'states client protocol 0'),
    },
    {
      name: 'calls that open no session are not decoded nor gated',
      method: 'Player:getWallet',
      bytes: Buffer.from([0x82, 0x21, 0x01, 0x00]),
      minimum: 5,
      expect: { ok: true },
    },
    {
      name: 'arguments that do not decode are BAD_REQUEST, not a version verdict',
      method: 'Sso:login',
      bytes: call('Sso:login', login(3)).subarray(0, 20),
      minimum: 1,
      expect: { ok: false, code: 'BAD_REQUEST', detail: 'Sso:login: its arguments do not decode (' },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const verdict = checkClientProtocol(c.method, c.bytes, c.minimum, DEFAULT_CAPS);
      if (!verdict.ok && verdict.code === 'BAD_REQUEST' && !c.expect.ok) {
        assert.equal(verdict.code, c.expect.code);
        assert.ok(verdict.detail.startsWith(c.expect.detail), verdict.detail);
      } else assert.deepEqual(verdict, c.expect);
    });
  }

  test('the SDK version passes a minimum equal to it', () => {
    const sdk = call('Sso:login', login(CLIENT_PROTOCOL));
    assert.deepEqual(checkClientProtocol('Sso:login', sdk, CLIENT_PROTOCOL, DEFAULT_CAPS), { ok: true });
  });
});
