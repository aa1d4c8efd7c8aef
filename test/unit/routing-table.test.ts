/**
 * Spec of broker/routing-table.ts: what the broker derives from Yellow's instance records, and
 * what it keeps from the previous table when instances go down.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RoutingTable, type MethodRoute, type ServiceRoute } from '../../broker/routing-table';
import type { InstanceRecord } from '../../yellow/types';
import { plainInstance, serviceInstance, type FakeService } from './instance-records';

const SSO: FakeService = {
  role: 'sso',
  thriftService: 'Sso',
  methods: ['login', 'whoami', 'ping'],
  publicMethods: ['login', 'ping'],
  idempotentMethods: ['whoami', 'ping'],
};
const PLAYER: FakeService = {
  role: 'player',
  thriftService: 'Player',
  methods: ['getWallet', 'credit'],
  idempotentMethods: ['getWallet'],
  internalMethods: ['credit'],
};
const DUEL: FakeService = {
  role: 'duel',
  thriftService: 'Duel',
  methods: ['findMatch', 'move'],
  stateful: true,
};
/** Duel as a newer release announces it: one more method, and it stopped being stateful. */
const DUEL_V2: FakeService = { ...DUEL, methods: ['findMatch', 'move', 'forfeit'], stateful: false };
/** Player's next release: getWallet internal and not idempotent any more, and a new public ping. */
const PLAYER_V2: FakeService = {
  ...PLAYER,
  methods: ['getWallet', 'credit', 'ping'],
  idempotentMethods: [],
  internalMethods: ['credit', 'getWallet'],
  publicMethods: ['ping'],
};
/** Sso's next release: whoami public, login no longer public (say, replaced by another method). */
const SSO_V2: FakeService = { ...SSO, publicMethods: ['whoami', 'ping'] };

/** A method's route with instances as ids, so cases compare with deepEqual. */
interface MethodSummary {
  instances: string[];
  publicInstances: string[];
  public: boolean;
  internal: boolean;
  idempotent: boolean;
}

/** A ServiceRoute with methods as a sorted record and instances as ids. */
interface ServiceSummary {
  role: string;
  stateful: boolean;
  methods: Record<string, MethodSummary>;
  instances: string[];
}

function summarise(s: ServiceRoute): ServiceSummary {
  const ids = (list: InstanceRecord[]): string[] => list.map((i) => i.instanceId);
  const methods = [...s.methods.keys()].sort().map((name): [string, MethodSummary] => {
    const m = s.methods.get(name) as MethodRoute;
    const { internal, idempotent } = m;
    return [
      name,
      { instances: ids(m.instances), publicInstances: ids(m.publicInstances), public: m.public, internal, idempotent },
    ];
  });
  return { role: s.role, stateful: s.stateful, methods: Object.fromEntries(methods), instances: ids(s.instances) };
}

/** What a table built from FakeService announcements should say about that service. */
function announced(svc: FakeService, instances: string[]): ServiceSummary {
  const has = (list: string[] | undefined, name: string): boolean => (list ?? []).includes(name);
  const methods = [...svc.methods].sort().map((name): [string, MethodSummary] => {
    const isPublic = has(svc.publicMethods, name);
    const summary: MethodSummary = {
      instances,
      publicInstances: isPublic ? instances : [],
      public: isPublic,
      internal: has(svc.internalMethods, name),
      idempotent: has(svc.idempotentMethods, name),
    };
    return [name, summary];
  });
  return { role: svc.role, stateful: svc.stateful ?? false, methods: Object.fromEntries(methods), instances };
}

/** `summary` with some methods' fields replaced. */
function withMethods(summary: ServiceSummary, changes: Record<string, Partial<MethodSummary>>): ServiceSummary {
  const methods = { ...summary.methods };
  for (const [name, change] of Object.entries(changes)) {
    const base: MethodSummary = methods[name] ?? {
      instances: [],
      publicInstances: [],
      public: false,
      internal: false,
      idempotent: false,
    };
    methods[name] = { ...base, ...change };
  }
  const sorted = Object.keys(methods)
    .sort()
    .map((n) => [n, methods[n]]);
  return { ...summary, methods: Object.fromEntries(sorted) as Record<string, MethodSummary> };
}

interface TableCase {
  name: string;
  records: InstanceRecord[];
  /** records of the previous table, when the case is about what survives a rebuild */
  previous?: InstanceRecord[];
  /** thrift service name -> summary; exactly these services are known */
  services: Record<string, ServiceSummary>;
  /** ids that instance() finds */
  reachable: string[];
  /** ids that instance() does not find */
  unreachable?: string[];
}

const cases: TableCase[] = [
  {
    name: 'no records: no service and no instance',
    records: [],
    services: {},
    reachable: [],
    unreachable: ['sso-1'],
  },
  {
    name: 'one instance: its service with methods, public, internal, idempotent and stateful as announced',
    records: [serviceInstance('sso-1', SSO)],
    services: { Sso: announced(SSO, ['sso-1']) },
    reachable: ['sso-1'],
  },
  {
    name: 'internal methods and a stateful flag are carried through',
    records: [serviceInstance('player-1', PLAYER), serviceInstance('duel-1', DUEL)],
    services: { Player: announced(PLAYER, ['player-1']), Duel: announced(DUEL, ['duel-1']) },
    reachable: ['player-1', 'duel-1'],
  },
  {
    name: 'records without service methods (brokers, yellow) are reachable by id but define no service',
    records: [plainInstance('broker-1', 'broker'), plainInstance('yellow-1', 'yellow')],
    services: {},
    reachable: ['broker-1', 'yellow-1'],
  },
  {
    name: 'several instances of one service are candidates in record order',
    records: [serviceInstance('sso-2', SSO), serviceInstance('sso-1', SSO), serviceInstance('sso-3', SSO)],
    services: { Sso: announced(SSO, ['sso-2', 'sso-1', 'sso-3']) },
    reachable: ['sso-1', 'sso-2', 'sso-3'],
  },
  {
    name: 'a draining instance takes no new work but stays reachable by id',
    records: [serviceInstance('sso-1', SSO, { draining: true }), serviceInstance('sso-2', SSO)],
    services: { Sso: announced(SSO, ['sso-2']) },
    reachable: ['sso-1', 'sso-2'],
  },
  {
    name: 'a service whose every instance drains is known, with no candidates',
    records: [serviceInstance('duel-1', DUEL, { draining: true })],
    services: { Duel: announced(DUEL, []) },
    reachable: ['duel-1'],
  },

  // Rebuilding from the next set of records.
  {
    name: 'an instance that went down (absent from the records) is no candidate and not reachable',
    previous: [serviceInstance('sso-1', SSO), serviceInstance('sso-2', SSO)],
    records: [serviceInstance('sso-2', SSO)],
    services: { Sso: announced(SSO, ['sso-2']) },
    reachable: ['sso-2'],
    unreachable: ['sso-1'],
  },
  {
    name: 'a service that lost every instance stays known with its methods, so callers get UNAVAILABLE',
    previous: [serviceInstance('player-1', PLAYER), serviceInstance('sso-1', SSO)],
    records: [serviceInstance('sso-1', SSO)],
    services: { Sso: announced(SSO, ['sso-1']), Player: announced(PLAYER, []) },
    reachable: ['sso-1'],
    unreachable: ['player-1'],
  },
  {
    name: 'without a previous table, a service with no instance is not known at all',
    records: [serviceInstance('sso-1', SSO)],
    services: { Sso: announced(SSO, ['sso-1']) },
    reachable: ['sso-1'],
    unreachable: ['player-1'],
  },
  {
    name: 'a service that comes back takes what its new instances announce, not the previous methods',
    previous: [serviceInstance('duel-1', DUEL)],
    records: [serviceInstance('duel-2', DUEL_V2)],
    services: { Duel: announced(DUEL_V2, ['duel-2']) },
    reachable: ['duel-2'],
  },
  {
    name: 'a service that is still up takes its flags from what its records announce now',
    previous: [serviceInstance('duel-1', DUEL)],
    records: [serviceInstance('duel-1', DUEL_V2)],
    services: { Duel: announced(DUEL_V2, ['duel-1']) },
    reachable: ['duel-1'],
  },

  // Rolling deploys: instances of one service on different releases, routed per method.
  {
    name: 'old and new release: shared methods on both, the added method only on the new instance',
    records: [serviceInstance('duel-1', DUEL), serviceInstance('duel-2', DUEL_V2)],
    services: {
      Duel: withMethods(
        { ...announced(DUEL, ['duel-1', 'duel-2']), stateful: true },
        { forfeit: { instances: ['duel-2'] } },
      ),
    },
    reachable: ['duel-1', 'duel-2'],
  },
  {
    name: 'the order of the records changes only the order of the candidates',
    records: [serviceInstance('duel-2', DUEL_V2), serviceInstance('duel-1', DUEL)],
    services: {
      Duel: withMethods(
        { ...announced(DUEL, ['duel-2', 'duel-1']), stateful: true },
        { forfeit: { instances: ['duel-2'] } },
      ),
    },
    reachable: ['duel-1', 'duel-2'],
  },
  {
    name: 'a stateful instance makes the service stateful until the last of its release is gone',
    previous: [serviceInstance('duel-1', DUEL), serviceInstance('duel-2', DUEL_V2)],
    records: [serviceInstance('duel-2', DUEL_V2)],
    services: { Duel: announced(DUEL_V2, ['duel-2']) },
    reachable: ['duel-2'],
    unreachable: ['duel-1'],
  },
  {
    name: 'the only instance with the added method drains: the method is known, with no candidate',
    records: [serviceInstance('duel-1', DUEL), serviceInstance('duel-2', DUEL_V2, { draining: true })],
    services: {
      Duel: withMethods({ ...announced(DUEL, ['duel-1']), stateful: true }, { forfeit: { instances: [] } }),
    },
    reachable: ['duel-1', 'duel-2'],
  },
  {
    name: 'the only instance with the added method died: the method stays known (UNAVAILABLE, not a strike)',
    previous: [serviceInstance('duel-1', DUEL), serviceInstance('duel-2', DUEL_V2)],
    records: [serviceInstance('duel-1', DUEL)],
    services: { Duel: withMethods(announced(DUEL, ['duel-1']), { forfeit: { instances: [] } }) },
    reachable: ['duel-1'],
    unreachable: ['duel-2'],
  },
  {
    name: 'internal on any instance wins, even on a draining one; the other flags per instance',
    records: [serviceInstance('player-1', PLAYER), serviceInstance('player-2', PLAYER_V2, { draining: true })],
    services: {
      Player: withMethods(announced(PLAYER, ['player-1']), {
        // V2 closes getWallet to clients, makes it non-idempotent, adds a public method
        getWallet: { internal: true, idempotent: false },
        ping: { instances: [], public: true },
      }),
    },
    reachable: ['player-1', 'player-2'],
  },
  {
    name: 'a method public on one release takes anonymous calls only on the instances that say so',
    records: [serviceInstance('sso-1', SSO), serviceInstance('sso-2', SSO_V2)],
    services: {
      Sso: withMethods(announced(SSO, ['sso-1', 'sso-2']), {
        whoami: { publicInstances: ['sso-2'], public: true },
        login: { publicInstances: ['sso-1'] },
      }),
    },
    reachable: ['sso-1', 'sso-2'],
  },
  {
    name: 'idempotent only when every instance announcing it says so (a retry may land on either)',
    records: [serviceInstance('player-1', PLAYER), serviceInstance('player-2', PLAYER_V2)],
    services: {
      Player: withMethods(announced(PLAYER, ['player-1', 'player-2']), {
        getWallet: { internal: true, idempotent: false },
        ping: { instances: ['player-2'], publicInstances: ['player-2'], public: true },
      }),
    },
    reachable: ['player-1', 'player-2'],
  },
];

describe('RoutingTable.build()', () => {
  for (const c of cases) {
    test(c.name, () => {
      const previous = c.previous === undefined ? undefined : RoutingTable.build(c.previous);
      const table = RoutingTable.build(c.records, previous);

      assert.deepEqual([...table.serviceNames()].sort(), Object.keys(c.services).sort(), 'known services');
      for (const [name, expected] of Object.entries(c.services)) {
        const svc = table.service(name);
        assert.ok(svc, `${name} is known`);
        assert.equal(svc.thriftService, name);
        assert.deepEqual(summarise(svc), expected, name);
      }
      for (const id of c.reachable) {
        const record = c.records.find((r) => r.instanceId === id);
        assert.equal(table.instance(id), record, `instance(${id}) is its record`);
      }
      for (const id of c.unreachable ?? []) assert.equal(table.instance(id), undefined, `instance(${id})`);
    });
  }
});

describe('RoutingTable lookups', () => {
  test('an empty table knows no service, no instance and no name', () => {
    const empty = RoutingTable.empty();
    assert.deepEqual(empty.serviceNames(), []);
    assert.equal(empty.service('Sso'), undefined);
    assert.equal(empty.instance('sso-1'), undefined);
  });

  test('services are looked up by Thrift service name, not by role, case-sensitively', () => {
    const table = RoutingTable.build([serviceInstance('sso-1', SSO)]);
    assert.ok(table.service('Sso'));
    assert.equal(table.service('sso'), undefined);
    assert.equal(table.service('SSO'), undefined);
    assert.equal(table.service('sso-1'), undefined);
  });

  test('instance ids are looked up across every role', () => {
    const sso = serviceInstance('sso-1', SSO);
    const broker = plainInstance('broker-1', 'broker');
    const table = RoutingTable.build([sso, broker]);
    assert.equal(table.instance('sso-1'), sso);
    assert.equal(table.instance('broker-1'), broker);
    assert.equal(table.instance('Sso'), undefined);
  });

  test('the table keeps its own method sets: changing the records afterwards changes nothing', () => {
    const record = serviceInstance('sso-1', SSO);
    const table = RoutingTable.build([record]);
    record.service?.methods.push('added');
    record.service?.publicMethods.push('whoami');
    const svc = table.service('Sso');
    assert.equal(svc?.methods.has('added'), false);
    assert.equal(svc?.methods.get('whoami')?.public, false);
  });

  test('building from a previous table leaves that table as it was', () => {
    const previous = RoutingTable.build([serviceInstance('sso-1', SSO), serviceInstance('player-1', PLAYER)]);
    RoutingTable.build([serviceInstance('sso-2', SSO)], previous);
    assert.deepEqual(
      previous.service('Sso')?.instances.map((i) => i.instanceId),
      ['sso-1'],
    );
    assert.deepEqual(
      previous.service('Player')?.instances.map((i) => i.instanceId),
      ['player-1'],
    );
    assert.ok(previous.instance('sso-1'));
    assert.equal(previous.instance('sso-2'), undefined);
  });

  test('a service that lost its instances survives any number of rebuilds', () => {
    let table = RoutingTable.build([serviceInstance('player-1', PLAYER)]);
    for (let i = 0; i < 3; i++) table = RoutingTable.build([], table);
    assert.deepEqual(table.serviceNames(), ['Player']);
    assert.deepEqual(summarise(table.service('Player') as ServiceRoute), announced(PLAYER, []));
  });
});

describe('RoutingTable: who may serve a service', () => {
  test("an instance announcing another role's service is left out (a chat instance announcing Sso gets no login)", () => {
    const evil = serviceInstance('chat-1-evil', { ...SSO, role: 'chat' });
    const table = RoutingTable.build([serviceInstance('sso-1', SSO), evil]);
    assert.deepEqual(
      table.service('Sso')?.instances.map((i) => i.instanceId),
      ['sso-1'],
    );
    assert.equal(table.service('Sso')?.role, 'sso');
    const alone = RoutingTable.build([evil]);
    assert.equal(alone.service('Sso'), undefined, 'not even known: it has no instance that may serve it');
  });

  test('a service the keyring grants a role is routed to that role', () => {
    const store = serviceInstance('shop-1', { role: 'shop', thriftService: 'Store', methods: ['buy'] });
    assert.equal(RoutingTable.build([store]).service('Store'), undefined);
    const granted = RoutingTable.build([store], undefined, (role) => (role === 'shop' ? ['Store'] : []));
    assert.deepEqual(
      granted.service('Store')?.instances.map((i) => i.instanceId),
      ['shop-1'],
    );
  });
});
