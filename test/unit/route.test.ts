/**
 * Spec of broker/route.ts route(): which instance a client call goes to, or why it is refused.
 * The order of the checks matters and is part of the spec: unknown method, then internal, then
 * login, then placement (stateless: the chooser; stateful: binding, else rendezvous owner).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { route, type Chooser, type SessionView } from '../../broker/route';
import { RoutingTable } from '../../broker/routing-table';
import type { ErrorCode } from '../../shared/errors';
import { rendezvous } from '../../shared/hashing';
import type { InstanceRecord } from '../../yellow/types';
import { plainInstance, serviceInstance, type FakeService } from './instance-records';

const SSO: FakeService = {
  role: 'sso',
  thriftService: 'Sso',
  methods: ['login', 'register', 'whoami', 'ping'],
  publicMethods: ['login', 'register', 'ping'],
  idempotentMethods: ['whoami', 'ping'],
};
const PLAYER: FakeService = {
  role: 'player',
  thriftService: 'Player',
  methods: ['getWallet', 'credit', 'sync', 'ping'],
  publicMethods: ['sync', 'ping'],
  idempotentMethods: ['getWallet', 'ping'],
  internalMethods: ['credit', 'sync'],
};
const DUEL: FakeService = {
  role: 'duel',
  thriftService: 'Duel',
  methods: ['findMatch', 'move', 'ping'],
  publicMethods: ['ping'],
  idempotentMethods: ['ping'],
  stateful: true,
};
const CHAT: FakeService = { role: 'chat', thriftService: 'Chat', methods: ['say'] };
const LEADERBOARD: FakeService = { role: 'leaderboard', thriftService: 'Leaderboard', methods: ['top'] };

const LIVE_DUELS = ['duel-1', 'duel-2'];

/** Leaderboard had an instance once and lost it; Chat's only instance drains; duel-3 drains. */
const table = RoutingTable.build(
  [
    serviceInstance('sso-1', SSO),
    serviceInstance('sso-2', SSO),
    serviceInstance('player-1', PLAYER),
    serviceInstance('duel-1', DUEL),
    serviceInstance('duel-2', DUEL),
    serviceInstance('duel-3', DUEL, { draining: true }),
    serviceInstance('chat-1', CHAT, { draining: true }),
    plainInstance('broker-1', 'broker'),
  ],
  RoutingTable.build([serviceInstance('lb-1', LEADERBOARD)]),
);
const everyDuelDraining = RoutingTable.build([serviceInstance('duel-1', DUEL, { draining: true })]);
/** Duel state kept outside the instances (durable): a session moves when its instance is gone. */
const DURABLE_DUEL: FakeService = { ...DUEL, durable: true };
const durable = RoutingTable.build(LIVE_DUELS.map((id) => serviceInstance(id, DURABLE_DUEL)));
/** During a deploy that makes it durable, one instance still is not: the service is not yet. */
const halfDurable = RoutingTable.build([serviceInstance('duel-1', DURABLE_DUEL), serviceInstance('duel-2', DUEL)]);

const session = (sessionId: string, userId: string, bindings: Record<string, string> = {}): SessionView => ({
  sessionId,
  userId,
  bindings: new Map(Object.entries(bindings)),
});
const ANONYMOUS = session('', '');
const ANN = session('s-ann', 'u-ann');
const ANN_OWNER = rendezvous('s-ann', LIVE_DUELS) as string;
const ANN_NOT_OWNER = LIVE_DUELS.find((id) => id !== ANN_OWNER) as string;

type Expected = { forward: string; idempotent: boolean; bindNow: boolean } | { reject: ErrorCode; detail: string };

interface RouteCase {
  name: string;
  /** "Service:method" */
  call: string;
  session: SessionView;
  exclude?: string[];
  table?: RoutingTable;
  expect: Expected;
  /** instance ids the chooser was offered; null: the chooser must not be asked */
  offered: string[] | null;
}

const cases: RouteCase[] = [
  // Refusals, in the order route() checks them.
  {
    name: 'an unknown service is UNKNOWN_METHOD',
    call: 'Nope:ping',
    session: ANN,
    offered: null,
    expect: { reject: 'UNKNOWN_METHOD', detail: 'Nope:ping: no service Nope runs in this cluster' },
  },
  {
    name: 'an unknown method of a known service is UNKNOWN_METHOD',
    call: 'Sso:nope',
    session: ANN,
    offered: null,
    expect: { reject: 'UNKNOWN_METHOD', detail: 'Sso:nope is not a known method' },
  },
  {
    name: 'method names are case-sensitive',
    call: 'Sso:Login',
    session: ANONYMOUS,
    offered: null,
    expect: { reject: 'UNKNOWN_METHOD', detail: 'Sso:Login is not a known method' },
  },
  {
    name: 'an internal method is FORBIDDEN to a logged-in client',
    call: 'Player:credit',
    session: ANN,
    offered: null,
    expect: { reject: 'FORBIDDEN', detail: 'Player:credit is internal to the services' },
  },
  {
    name: 'an internal method is FORBIDDEN (not UNAUTHENTICATED) before login',
    call: 'Player:credit',
    session: ANONYMOUS,
    offered: null,
    expect: { reject: 'FORBIDDEN', detail: 'Player:credit is internal to the services' },
  },
  {
    name: 'internal wins over public for a method announced as both',
    call: 'Player:sync',
    session: ANONYMOUS,
    offered: null,
    expect: { reject: 'FORBIDDEN', detail: 'Player:sync is internal to the services' },
  },
  {
    name: 'a non-public method before login is UNAUTHENTICATED',
    call: 'Player:getWallet',
    session: ANONYMOUS,
    offered: null,
    expect: { reject: 'UNAUTHENTICATED', detail: 'log in before calling Player:getWallet' },
  },
  {
    name: 'a session id without a user id is not logged in',
    call: 'Sso:whoami',
    session: session('s-half', ''),
    offered: null,
    expect: { reject: 'UNAUTHENTICATED', detail: 'log in before calling Sso:whoami' },
  },

  // Stateless services: the chooser picks among the instances that take new work.
  {
    name: "a public method before login goes to the chooser's pick",
    call: 'Sso:login',
    session: ANONYMOUS,
    offered: ['sso-1', 'sso-2'],
    expect: { forward: 'sso-1', idempotent: false, bindNow: false },
  },
  {
    name: "a logged-in call to a stateless service goes to the chooser's pick",
    call: 'Player:getWallet',
    session: ANN,
    offered: ['player-1'],
    expect: { forward: 'player-1', idempotent: true, bindNow: false },
  },
  {
    name: "the idempotent flag comes from the service's announcement",
    call: 'Sso:whoami',
    session: ANN,
    offered: ['sso-1', 'sso-2'],
    expect: { forward: 'sso-1', idempotent: true, bindNow: false },
  },
  {
    name: 'the exclude set is handed to the chooser (a retry avoids the instance that failed)',
    call: 'Sso:whoami',
    session: ANN,
    exclude: ['sso-1'],
    offered: ['sso-1', 'sso-2'],
    expect: { forward: 'sso-2', idempotent: true, bindNow: false },
  },
  {
    name: 'the chooser finding nothing outside the exclude set is UNAVAILABLE',
    call: 'Sso:whoami',
    session: ANN,
    exclude: ['sso-1', 'sso-2'],
    offered: ['sso-1', 'sso-2'],
    expect: { reject: 'UNAVAILABLE', detail: 'Sso has no live instance' },
  },
  {
    name: 'a service whose only instance drains is UNAVAILABLE (the chooser is not asked)',
    call: 'Chat:say',
    session: ANN,
    offered: null,
    expect: { reject: 'UNAVAILABLE', detail: 'Chat has no live instance' },
  },
  {
    name: 'a service that lost every instance is UNAVAILABLE, not UNKNOWN_METHOD',
    call: 'Leaderboard:top',
    session: ANN,
    offered: null,
    expect: { reject: 'UNAVAILABLE', detail: 'Leaderboard has no live instance' },
  },

  // Stateful services without a session to place: handled like stateless ones.
  {
    name: 'a public method of a stateful service before login goes to the chooser, unbound',
    call: 'Duel:ping',
    session: ANONYMOUS,
    offered: LIVE_DUELS,
    expect: { forward: 'duel-1', idempotent: true, bindNow: false },
  },
  {
    name: 'a user without a session id cannot be hashed: the chooser picks, unbound',
    call: 'Duel:move',
    session: session('', 'u-ann'),
    offered: LIVE_DUELS,
    expect: { forward: 'duel-1', idempotent: false, bindNow: false },
  },

  // Stateful services with a session: its binding, else the rendezvous owner.
  {
    name: 'a stateful call with a binding goes to the bound instance',
    call: 'Duel:move',
    session: session('s-ann', 'u-ann', { duel: ANN_NOT_OWNER }),
    offered: null,
    expect: { forward: ANN_NOT_OWNER, idempotent: false, bindNow: false },
  },
  {
    name: 'a binding to a draining instance still holds (it serves what it has)',
    call: 'Duel:move',
    session: session('s-ann', 'u-ann', { duel: 'duel-3' }),
    offered: null,
    expect: { forward: 'duel-3', idempotent: false, bindNow: false },
  },
  {
    name: 'a binding to an instance that is gone is STATE_LOST',
    call: 'Duel:move',
    session: session('s-ann', 'u-ann', { duel: 'duel-9' }),
    offered: null,
    expect: { reject: 'STATE_LOST', detail: 'duel instance duel-9 holding this session is gone' },
  },
  {
    name: 'a durable service: a binding to an instance that is gone is placed anew on the rendezvous owner',
    call: 'Duel:move',
    session: session('s-ann', 'u-ann', { duel: 'duel-9' }),
    table: durable,
    offered: null,
    expect: { forward: ANN_OWNER, idempotent: false, bindNow: true },
  },
  {
    name: 'a durable service: a live binding still holds',
    call: 'Duel:move',
    session: session('s-ann', 'u-ann', { duel: ANN_NOT_OWNER }),
    table: durable,
    offered: null,
    expect: { forward: ANN_NOT_OWNER, idempotent: false, bindNow: false },
  },
  {
    name: 'durable only when every instance says so: otherwise a gone binding is STATE_LOST',
    call: 'Duel:move',
    session: session('s-ann', 'u-ann', { duel: 'duel-9' }),
    table: halfDurable,
    offered: null,
    expect: { reject: 'STATE_LOST', detail: 'duel instance duel-9 holding this session is gone' },
  },
  {
    name: 'a binding of another role does not place this service',
    call: 'Duel:move',
    session: session('s-ann', 'u-ann', { chat: 'duel-9' }),
    offered: null,
    expect: { forward: ANN_OWNER, idempotent: false, bindNow: true },
  },
  {
    name: 'a stateful call without a binding goes to the rendezvous owner and binds now',
    call: 'Duel:findMatch',
    session: ANN,
    offered: null,
    expect: { forward: ANN_OWNER, idempotent: false, bindNow: true },
  },
  {
    name: 'the exclude set does not move a bound stateful call (the broker never retries those)',
    call: 'Duel:ping',
    session: session('s-ann', 'u-ann', { duel: 'duel-2' }),
    exclude: ['duel-2'],
    offered: null,
    expect: { forward: 'duel-2', idempotent: true, bindNow: false },
  },
  {
    name: 'the exclude set does not move the rendezvous owner either',
    call: 'Duel:ping',
    session: ANN,
    exclude: [ANN_OWNER],
    offered: null,
    expect: { forward: ANN_OWNER, idempotent: true, bindNow: true },
  },
  {
    name: 'a stateful service with no instance taking new work is UNAVAILABLE for an unbound session',
    call: 'Duel:findMatch',
    session: ANN,
    table: everyDuelDraining,
    offered: null,
    expect: { reject: 'UNAVAILABLE', detail: 'Duel has no live instance' },
  },
  {
    name: 'a bound session still reaches its draining instance when no other takes work',
    call: 'Duel:move',
    session: session('s-ann', 'u-ann', { duel: 'duel-1' }),
    table: everyDuelDraining,
    offered: null,
    expect: { forward: 'duel-1', idempotent: false, bindNow: false },
  },
];

// A rolling deploy: instances of one service on two releases. The newer Leaderboard adds
// `around`; the newer Duel adds `forfeit`; the newer Player closes getWallet to clients; the
// newer Sso opens `whoami` before login. `spin` was served only by an instance that died.
const LB_V1: FakeService = {
  role: 'leaderboard',
  thriftService: 'Leaderboard',
  methods: ['top', 'ping'],
  publicMethods: ['top', 'ping'],
  idempotentMethods: ['top', 'ping'],
};
const LB_V2: FakeService = { ...LB_V1, methods: ['top', 'ping', 'around'], publicMethods: ['top', 'ping', 'around'] };
const LB_V3: FakeService = { ...LB_V2, methods: ['top', 'ping', 'around', 'spin'] };
const DUEL_V2: FakeService = { ...DUEL, methods: ['findMatch', 'move', 'forfeit', 'ping'] };
const PLAYER_V2: FakeService = { ...PLAYER, internalMethods: ['credit', 'sync', 'getWallet'] };
const SSO_V2: FakeService = {
  ...SSO,
  publicMethods: [...(SSO.publicMethods ?? []), 'whoami'],
  idempotentMethods: ['ping'],
};
const ROLLING_DUELS = ['rduel-old', 'rduel-new'];

const rolling = RoutingTable.build(
  [
    serviceInstance('lb-old', LB_V1),
    serviceInstance('lb-new', LB_V2),
    serviceInstance('rduel-old', DUEL),
    serviceInstance('rduel-new', DUEL_V2),
    serviceInstance('player-old', PLAYER),
    serviceInstance('player-new', PLAYER_V2),
    serviceInstance('sso-old', SSO),
    serviceInstance('sso-new', SSO_V2),
  ],
  RoutingTable.build([serviceInstance('lb-newest', LB_V3)]),
);
/** The only instance of the newer Leaderboard drains; the older one still runs. */
const rollingBack = RoutingTable.build([
  serviceInstance('lb-old', LB_V1),
  serviceInstance('lb-new', LB_V2, { draining: true }),
]);
/** The only instance that takes `whoami` before login drains. */
const publicDrains = RoutingTable.build([
  serviceInstance('sso-old', SSO),
  serviceInstance('sso-new', SSO_V2, { draining: true }),
]);
const CAT_OWNER = rendezvous('s-cat', ROLLING_DUELS) as string;

const rollingCases: RouteCase[] = [
  {
    name: 'a method both releases serve is offered both instances',
    call: 'Leaderboard:top',
    session: ANONYMOUS,
    table: rolling,
    offered: ['lb-old', 'lb-new'],
    expect: { forward: 'lb-old', idempotent: true, bindNow: false },
  },
  {
    name: 'a method only the newer release serves is offered only its instance',
    call: 'Leaderboard:around',
    session: ANONYMOUS,
    table: rolling,
    offered: ['lb-new'],
    expect: { forward: 'lb-new', idempotent: false, bindNow: false },
  },
  {
    name: 'the newer method after login: still only the instance that serves it',
    call: 'Leaderboard:around',
    session: ANN,
    table: rolling,
    offered: ['lb-new'],
    expect: { forward: 'lb-new', idempotent: false, bindNow: false },
  },
  {
    name: 'a method whose only instance drains is UNAVAILABLE naming it (no strike), while the service runs',
    call: 'Leaderboard:around',
    session: ANONYMOUS,
    table: rollingBack,
    offered: null,
    expect: {
      reject: 'UNAVAILABLE',
      detail:
        'Leaderboard:around: none of the 1 live Leaderboard instance serves it (its release is not running yet, or not any more)',
    },
  },
  {
    name: 'a method whose only instance died stays known: UNAVAILABLE naming it, not UNKNOWN_METHOD',
    call: 'Leaderboard:spin',
    session: ANN,
    table: rolling,
    offered: null,
    expect: {
      reject: 'UNAVAILABLE',
      detail:
        'Leaderboard:spin: none of the 2 live Leaderboard instances serves it (its release is not running yet, or not any more)',
    },
  },
  {
    name: 'a method no release ever announced is still UNKNOWN_METHOD',
    call: 'Leaderboard:nope',
    session: ANN,
    table: rolling,
    offered: null,
    expect: { reject: 'UNKNOWN_METHOD', detail: 'Leaderboard:nope is not a known method' },
  },
  {
    name: 'internal on one release is FORBIDDEN from clients, although the older one serves it',
    call: 'Player:getWallet',
    session: ANN,
    table: rolling,
    offered: null,
    expect: { reject: 'FORBIDDEN', detail: 'Player:getWallet is internal to the services' },
  },
  {
    name: 'public on one release: before login only that release is offered',
    call: 'Sso:whoami',
    session: ANONYMOUS,
    table: rolling,
    offered: ['sso-new'],
    expect: { forward: 'sso-new', idempotent: false, bindNow: false },
  },
  {
    name: 'public on one release: after login both are offered; idempotent only if both say so',
    call: 'Sso:whoami',
    session: ANN,
    table: rolling,
    offered: ['sso-old', 'sso-new'],
    expect: { forward: 'sso-old', idempotent: false, bindNow: false },
  },
  {
    name: 'public only on a draining instance: UNAVAILABLE before login, naming the method',
    call: 'Sso:whoami',
    session: ANONYMOUS,
    table: publicDrains,
    offered: null,
    expect: {
      reject: 'UNAVAILABLE',
      detail:
        'Sso:whoami: none of the 1 live Sso instance serves it before login (its release is not running yet, or not any more)',
    },
  },
  {
    name: 'stateful, unbound, an old method: the rendezvous owner among both releases',
    call: 'Duel:move',
    session: session('s-cat', 'u-cat'),
    table: rolling,
    offered: null,
    expect: { forward: CAT_OWNER, idempotent: false, bindNow: true },
  },
  {
    name: 'stateful, unbound, the new method: placed on the instance that serves it',
    call: 'Duel:forfeit',
    session: session('s-cat', 'u-cat'),
    table: rolling,
    offered: null,
    expect: { forward: 'rduel-new', idempotent: false, bindNow: true },
  },
  {
    name: 'stateful, bound to the newer release: every method goes there',
    call: 'Duel:move',
    session: session('s-cat', 'u-cat', { duel: 'rduel-new' }),
    table: rolling,
    offered: null,
    expect: { forward: 'rduel-new', idempotent: false, bindNow: false },
  },
  {
    name: 'stateful, bound to the older release: the new method is UNAVAILABLE (its state is there)',
    call: 'Duel:forfeit',
    session: session('s-cat', 'u-cat', { duel: 'rduel-old' }),
    table: rolling,
    offered: null,
    expect: {
      reject: 'UNAVAILABLE',
      detail: 'Duel:forfeit: duel instance rduel-old holding this session runs a release without it',
    },
  },
];

/** Picks the first candidate not excluded, and remembers what it was offered. */
function recordingChooser(): { choose: Chooser; offers: string[][] } {
  const offers: string[][] = [];
  const choose: Chooser = (candidates, exclude) => {
    offers.push(candidates.map((c) => c.instanceId));
    return candidates.find((c) => !exclude.has(c.instanceId));
  };
  return { choose, offers };
}

function splitCall(call: string): { service: string; method: string } {
  const [service = '', method = ''] = call.split(':');
  return { service, method };
}

describe('route()', () => {
  for (const c of [...cases, ...rollingCases]) {
    test(c.name, () => {
      const routes = c.table ?? table;
      const { choose, offers } = recordingChooser();
      const target = splitCall(c.call);
      const r = route(target, c.session, routes, choose, new Set(c.exclude ?? []));

      if ('reject' in c.expect) {
        assert.deepEqual(r, { kind: 'reject', code: c.expect.reject, detail: c.expect.detail });
      } else {
        assert.equal(r.kind, 'forward');
        if (r.kind !== 'forward') return;
        assert.equal(r.instance.instanceId, c.expect.forward);
        assert.equal(r.instance, routes.instance(c.expect.forward), "the table's own record");
        assert.equal(r.service, routes.service(target.service), "the table's own service route");
        assert.equal(r.idempotent, c.expect.idempotent, 'idempotent');
        assert.equal(r.bindNow, c.expect.bindNow, 'bindNow');
      }
      assert.deepEqual(offers, c.offered === null ? [] : [c.offered], 'what the chooser was offered');
    });
  }
});

describe('route() placement of unbound stateful sessions', () => {
  const sessionIds = Array.from({ length: 200 }, (_, i) => `s-${i}`);
  const noChooser: Chooser = () => assert.fail('a stateful session is placed without the chooser');
  const placedOn = (routes: RoutingTable, sessionId: string): string => {
    const r = route({ service: 'Duel', method: 'move' }, session(sessionId, 'u'), routes, noChooser);
    assert.equal(r.kind, 'forward', sessionId);
    return r.kind === 'forward' ? r.instance.instanceId : '';
  };

  test('every session goes to its rendezvous owner among the instances taking new work', () => {
    for (const id of sessionIds) assert.equal(placedOn(table, id), rendezvous(id, LIVE_DUELS), id);
  });

  test('a draining instance owns no new session, even one it would win with all instances', () => {
    const everyDuel = [...LIVE_DUELS, 'duel-3'];
    const wonByDraining = sessionIds.filter((id) => rendezvous(id, everyDuel) === 'duel-3');
    assert.ok(wonByDraining.length > 0, 'some session would hash to duel-3');
    for (const id of wonByDraining) assert.notEqual(placedOn(table, id), 'duel-3', id);
  });

  test('brokers that learnt the instances in another order place every session alike', () => {
    const ids = ['duel-1', 'duel-2', 'duel-3', 'duel-4'];
    const records: InstanceRecord[] = ids.map((id) => serviceInstance(id, DUEL));
    const forward = RoutingTable.build(records);
    const backward = RoutingTable.build([...records].reverse());
    for (const id of sessionIds) assert.equal(placedOn(forward, id), placedOn(backward, id), id);
  });

  test('sessions spread over the instances', () => {
    const owners = new Set(sessionIds.map((id) => placedOn(table, id)));
    assert.deepEqual([...owners].sort(), LIVE_DUELS);
  });
});
