/**
 * Instance choice for service-to-service calls: suspects are a last resort rather than banned, and
 * a call made before discovery has heard of its service waits for the first instance instead of
 * failing at once. Links are a stand-in (no sockets): only choice and waiting are under test.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ServiceCaller, pickLeastLoaded, type CallMeta } from '../../rpc/caller';
import type { Links } from '../../rpc/links';
import { Directory } from '../../yellow/directory';
import type { ReplyEnvelope } from '../../shared/wire/frames';
import { serviceInstance } from './instance-records';

const PLAYER = { role: 'player', thriftService: 'Player', methods: ['ping'] };

function fakeLinks(suspects: string[], inFlight: Record<string, number> = {}): Links & { sentTo: string[] } {
  const sentTo: string[] = [];
  const links = {
    sentTo,
    isSuspect: (id: string) => suspects.includes(id),
    inFlight: (id: string) => inFlight[id] ?? 0,
    request: (target: { instanceId: string }) => {
      sentTo.push(target.instanceId);
      return Promise.resolve({ requestId: 1, status: 0, payload: Buffer.alloc(0) } as unknown as ReplyEnvelope);
    },
  };
  return links as unknown as Links & { sentTo: string[] };
}

function meta(deadlineInMs: number): CallMeta {
  return { sessionId: '', userId: '', traceId: 't', via: '', deadline: Date.now() + deadlineInMs };
}

describe('pickLeastLoaded', () => {
  const a = serviceInstance('player-a', PLAYER);
  const b = serviceInstance('player-b', PLAYER);
  const cases: {
    name: string;
    suspects: string[];
    inFlight?: Record<string, number>;
    exclude?: string[];
    pick: string | undefined;
  }[] = [
    { name: 'the less busy of two healthy instances', suspects: [], inFlight: { 'player-a': 3 }, pick: 'player-b' },
    {
      name: 'a healthy instance over a suspect, however busy',
      suspects: ['player-b'],
      inFlight: { 'player-a': 50 },
      pick: 'player-a',
    },
    {
      name: 'a suspect when every instance is suspect',
      suspects: ['player-a', 'player-b'],
      inFlight: { 'player-b': 1 },
      pick: 'player-a',
    },
    { name: 'nothing when every instance was tried', suspects: [], exclude: ['player-a', 'player-b'], pick: undefined },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const chosen = pickLeastLoaded([a, b], fakeLinks(c.suspects, c.inFlight), new Set(c.exclude ?? []));
      assert.equal(chosen?.instanceId, c.pick);
    });
  }
});

describe('ServiceCaller discovery wait', () => {
  test('a call made before its service is discovered is sent once the first instance appears', async () => {
    const directory = new Directory();
    const links = fakeLinks([]);
    const caller = new ServiceCaller(directory, links);
    const reply = caller.call('Player', 'ping', Buffer.alloc(0), meta(5000));
    // the instance arrives after the call was made (the caller is already waiting)
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.deepEqual(links.sentTo, []);
    directory.upsert(serviceInstance('player-late', PLAYER));
    await reply;
    assert.deepEqual(links.sentTo, ['player-late']);
  });

  test('with no instance ever, UNAVAILABLE names the service once the call deadline ends the wait', async () => {
    const caller = new ServiceCaller(new Directory(), fakeLinks([]));
    await assert.rejects(caller.call('Player', 'ping', Buffer.alloc(0), meta(50)), {
      code: 'UNAVAILABLE',
      message: /Player has no live instance/,
    });
  });

  test('an instance of another service does not end the wait', async () => {
    const directory = new Directory();
    const links = fakeLinks([]);
    const caller = new ServiceCaller(directory, links);
    const reply = caller.call('Player', 'ping', Buffer.alloc(0), meta(5000));
    directory.upsert(serviceInstance('chat-1', { role: 'chat', thriftService: 'Chat', methods: ['ping'] }));
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.deepEqual(links.sentTo, []);
    directory.upsert(serviceInstance('player-1', PLAYER));
    await reply;
    assert.deepEqual(links.sentTo, ['player-1']);
  });
});

describe('ServiceCaller during a rolling deploy', () => {
  const OLD = { ...PLAYER, methods: ['ping', 'getWallet'] };
  const NEW = { ...PLAYER, methods: ['ping', 'getWallet', 'grant'] };

  test('a method only the newer release serves goes only to its instances; older methods to both', async () => {
    const directory = new Directory();
    directory.upsert(serviceInstance('player-old', OLD));
    directory.upsert(serviceInstance('player-new', NEW));
    const links = fakeLinks([]);
    const caller = new ServiceCaller(directory, links);
    for (let i = 0; i < 50; i++) await caller.call('Player', 'grant', Buffer.alloc(0), meta(5000));
    assert.deepEqual(new Set(links.sentTo), new Set(['player-new']), 'grant: 50 calls, all to the newer instance');
    links.sentTo.length = 0;
    for (let i = 0; i < 200; i++) await caller.call('Player', 'getWallet', Buffer.alloc(0), meta(5000));
    assert.deepEqual(new Set(links.sentTo), new Set(['player-old', 'player-new']), 'getWallet reaches both');
  });

  test('a method no instance announces is sent anyway: the callee answers it is unknown', async () => {
    const directory = new Directory();
    directory.upsert(serviceInstance('player-old', OLD));
    const links = fakeLinks([]);
    await new ServiceCaller(directory, links).call('Player', 'grant', Buffer.alloc(0), meta(5000));
    assert.deepEqual(links.sentTo, ['player-old']);
  });
});
