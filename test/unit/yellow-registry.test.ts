import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Directory } from '../../yellow/directory';
import { Registry } from '../../yellow/registry';
import type { InstanceRecord, InstanceRegistration } from '../../yellow/types';
import { RegistrationError } from '../../yellow/validate';

const HB = 1000;

function reg(over: Partial<InstanceRegistration> = {}): InstanceRegistration {
  return {
    role: 'player',
    instanceId: 'player-1',
    host: '127.0.0.1',
    endpoints: { router: 'tcp://127.0.0.1:5001', metrics: 'http://127.0.0.1:9100/metrics' },
    service: {
      thriftService: 'Player',
      methods: ['getProfile'],
      publicMethods: [],
      idempotentMethods: ['getProfile'],
      internalMethods: [],
      stateful: false,
    },
    version: '0.1.0',
    pid: 42,
    startedAt: 1,
    load: { inFlight: 0, elu: 0.1 },
    ...over,
  };
}

/** Runs `fn` and returns the field a RegistrationError names. */
function rejectedField(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof RegistrationError, `expected RegistrationError, got ${String(e)}`);
    assert.match(e.message, new RegExp(e.field.replace(/[.[\]()]/g, '\\$&')));
    return e.field;
  }
  assert.fail('registration was accepted');
}

describe('Registry', () => {
  test('register then heartbeat keeps an instance alive; it expires after exactly 2.5 silent intervals', () => {
    const r = new Registry({ heartbeatMs: HB });
    const { record, event } = r.register(reg(), 0);
    assert.equal(record.epoch, 1, 'first epoch at t=0');
    assert.equal(event.type, 'up');
    assert.equal(r.heartbeat('player-1', { inFlight: 5, elu: 0.5 }, 1000), 'ok');
    assert.deepEqual(r.get('player-1')?.load, { inFlight: 5, elu: 0.5 });
    assert.deepEqual(r.expire(1000 + 2.5 * HB), [], 'exactly 2.5 intervals of silence is still alive');
    assert.equal(r.size, 1);
    assert.deepEqual(r.expire(1000 + 2.5 * HB + 1), [
      { type: 'down', instanceId: 'player-1', role: 'player', reason: 'expired', v: 2 },
    ]);
    assert.equal(r.size, 0);
    assert.equal(r.heartbeat('player-1', { inFlight: 0, elu: 0 }, 5000), 'unknown');
  });

  test('missLimit is configurable', () => {
    const r = new Registry({ heartbeatMs: 100, missLimit: 5 });
    r.register(reg(), 0);
    assert.equal(r.expire(500).length, 0);
    assert.equal(r.expire(501).length, 1);
  });

  test('re-registration bumps the epoch and keeps draining', () => {
    const r = new Registry({ heartbeatMs: HB });
    r.register(reg(), 0);
    r.setDraining('player-1', true);
    const again = r.register(reg({ pid: 43 }), 10);
    assert.equal(again.record.epoch, 10, 'epoch is max(previous + 1, now)');
    assert.equal(again.record.pid, 43);
    assert.equal(again.record.draining, true);
    assert.equal(r.register(reg(), 10).record.epoch, 11, 'same-ms re-registration still bumps');
    const fresh = new Registry({ heartbeatMs: HB });
    assert.ok(fresh.register(reg(), 5000).record.epoch > 11, 'a restarted Yellow never reissues an old epoch');
  });

  test('unknown heartbeat, deregister, drain', () => {
    const r = new Registry({ heartbeatMs: HB });
    assert.equal(r.heartbeat('nobody', { inFlight: 0, elu: 0 }, 0), 'unknown');
    assert.equal(r.setDraining('nobody', true), undefined);
    assert.equal(r.deregister('nobody'), undefined);
    r.register(reg(), 0);
    assert.deepEqual(r.setDraining('player-1', true), {
      type: 'draining',
      instanceId: 'player-1',
      draining: true,
      v: 2,
    });
    assert.equal(r.get('player-1')?.draining, true);
    assert.deepEqual(r.deregister('player-1'), {
      type: 'down',
      instanceId: 'player-1',
      role: 'player',
      reason: 'deregistered',
      v: 3,
    });
    assert.equal(r.get('player-1'), undefined);
  });

  test('list filters by role and Thrift service and returns copies', () => {
    const r = new Registry({ heartbeatMs: HB });
    r.register(reg(), 0);
    r.register(
      reg({
        role: 'broker',
        instanceId: 'broker-1',
        service: undefined,
        endpoints: { push: 'tcp://127.0.0.1:6000', tcp: '127.0.0.1:7800' },
      }),
      0,
    );
    assert.deepEqual(
      r.list({ role: 'broker' }).map((x) => x.instanceId),
      ['broker-1'],
    );
    assert.deepEqual(
      r.list({ service: 'Player' }).map((x) => x.instanceId),
      ['player-1'],
    );
    assert.equal(r.list().length, 2);
    const copy = r.list({ role: 'player' })[0]!;
    copy.draining = true;
    assert.equal(r.get('player-1')?.draining, false);
  });

  test('forgive: a stalled Yellow does not expire instances whose beats were buffered', () => {
    const r = new Registry({ heartbeatMs: HB });
    r.register(reg(), 0);
    r.forgive(20_000);
    assert.equal(r.expire(20_000 + 2.5 * HB).length, 0);
  });

  test('hostile registrations are rejected with the field named', () => {
    const r = new Registry({ heartbeatMs: HB });
    const cases: Array<[unknown, string]> = [
      [null, '(root)'],
      [{ ...reg(), instanceId: '' }, 'instanceId'],
      [{ ...reg(), instanceId: 'x'.repeat(129) }, 'instanceId'],
      [{ ...reg(), instanceId: 'bad id\n' }, 'instanceId'],
      [{ ...reg(), role: 7 }, 'role'],
      [{ ...reg(), endpoints: { router: 'http://127.0.0.1:5' } }, 'endpoints.router'],
      [{ ...reg(), endpoints: { router: 'tcp://127.0.0.1' } }, 'endpoints.router'],
      [{ ...reg(), endpoints: { pub: 'tcp://127.0.0.1:99999' } }, 'endpoints.pub'],
      [{ ...reg(), endpoints: { push: 'tcp://*:5000' } }, 'endpoints.push'],
      [{ ...reg(), endpoints: { router: `tcp://${'a'.repeat(300)}:5` } }, 'endpoints.router'],
      [{ ...reg(), endpoints: 'tcp://127.0.0.1:5' }, 'endpoints'],
      [{ ...reg(), pid: -1 }, 'pid'],
      [{ ...reg(), pid: 1.5 }, 'pid'],
      [{ ...reg(), load: { inFlight: 0, elu: Number.NaN } }, 'load.elu'],
      [{ ...reg(), load: { inFlight: 0, elu: 2 } }, 'load.elu'],
      [
        { ...reg(), service: { ...reg().service, methods: Array.from({ length: 513 }, (_, i) => `m${i}`) } },
        'service.methods',
      ],
      [{ ...reg(), service: { ...reg().service, methods: ['ok', 5] } }, 'service.methods[1]'],
      [{ ...reg(), service: { ...reg().service, stateful: 'yes' } }, 'service.stateful'],
      [{ ...reg(), version: '' }, 'version'],
    ];
    for (const [bad, field] of cases) {
      assert.equal(
        rejectedField(() => r.register(bad as InstanceRegistration, 0)),
        field,
        JSON.stringify(bad).slice(0, 120),
      );
    }
    assert.equal(r.size, 0);
  });

  test('unknown keys are dropped from a stored record', () => {
    const r = new Registry({ heartbeatMs: HB });
    const { record } = r.register({ ...reg(), evil: 'x'.repeat(10_000) } as InstanceRegistration, 0);
    assert.equal('evil' in record, false);
  });
});

describe('Directory (static)', () => {
  const rec = (id: string, over: Partial<InstanceRecord> = {}): InstanceRecord => ({
    ...reg({ instanceId: id }),
    draining: false,
    lastHeartbeat: 0,
    epoch: 1,
    ...over,
  });

  test('fromRecords, filters, draining excluded unless asked', () => {
    const dir = Directory.fromRecords([
      rec('p2'),
      rec('p1'),
      rec('p3', { draining: true }),
      rec('b1', { role: 'broker', service: undefined }),
    ]);
    assert.equal(dir.size, 4);
    assert.deepEqual(
      dir.instances({ thriftService: 'Player' }).map((r) => r.instanceId),
      ['p1', 'p2'],
    );
    assert.deepEqual(
      dir.instances({ thriftService: 'Player', includeDraining: true }).map((r) => r.instanceId),
      ['p1', 'p2', 'p3'],
    );
    assert.deepEqual(
      dir.instances({ role: 'broker' }).map((r) => r.instanceId),
      ['b1'],
    );
    assert.equal(dir.isAlive('p3'), true);
    assert.equal(dir.isAlive('nope'), false);
  });

  test('reconcile keeps the table when nobody answers or all are warming up, removes when absent', () => {
    const dir = Directory.fromRecords([rec('p1'), rec('p2')]);
    const downs: string[] = [];
    dir.on('down', (d) => downs.push(`${d.instanceId}:${d.reason}`));
    const later = Date.now() + 1000;
    dir.reconcile([], later, later);
    dir.reconcile([{ instances: [rec('p1')], warmingUp: true }], later, later);
    assert.equal(dir.size, 2);
    dir.reconcile(
      [
        { instances: [], warmingUp: true },
        { instances: [rec('p1')], warmingUp: false },
      ],
      later + 1,
      later + 1,
    );
    assert.deepEqual(downs, ['p2:absent']);
    dir.apply({ type: 'down', instanceId: 'p1', role: 'player', reason: 'expired' });
    assert.deepEqual(downs, ['p2:absent', 'p1:expired']);
    assert.equal(dir.size, 0);
  });

  test('events: up, change on load/draining, no change on heartbeat time alone', () => {
    const dir = new Directory();
    const seen: string[] = [];
    dir.on('up', (r) => seen.push(`up:${r.instanceId}`));
    dir.on('change', (r) => seen.push(`change:${r.instanceId}:${r.draining}:${r.load.inFlight}`));
    dir.apply({ type: 'up', instance: rec('p1') });
    dir.upsert(rec('p1', { lastHeartbeat: 99 }));
    dir.apply({ type: 'load', instanceId: 'p1', load: { inFlight: 7, elu: 0 } });
    dir.apply({ type: 'draining', instanceId: 'p1', draining: true });
    assert.deepEqual(seen, ['up:p1', 'change:p1:false:7', 'change:p1:true:7']);
  });
});
