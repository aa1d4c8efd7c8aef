import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Directory } from '../../yellow/directory';
import { FeedCursor } from '../../yellow/feed';
import { Registry, type VersionedEvent } from '../../yellow/registry';
import type { InstanceRecord, InstanceRegistration, YellowEvent } from '../../yellow/types';
import { decodeEvent, encodeEvent } from '../../yellow/wire';

const HB = 1000;

function reg(id: string, over: Partial<InstanceRegistration> = {}): InstanceRegistration {
  return {
    role: 'player',
    instanceId: id,
    host: '127.0.0.1',
    endpoints: { router: 'tcp://127.0.0.1:5001' },
    version: '0.1.0',
    pid: 42,
    startedAt: 1,
    load: { inFlight: 0, elu: 0.1 },
    ...over,
  };
}

function rec(id: string, over: Partial<InstanceRecord> = {}): InstanceRecord {
  return { ...reg(id), draining: false, lastHeartbeat: 0, epoch: 1, ...over };
}

describe('Registry versions', () => {
  test('every change takes the next version; heartbeats and unknown ids take none', () => {
    const r = new Registry({ heartbeatMs: HB });
    assert.equal(r.version, 0);
    const vs: number[] = [];
    vs.push(r.register(reg('a'), 0).event.v);
    vs.push(r.register(reg('b'), 0).event.v);
    r.heartbeat('a', { inFlight: 0, elu: 0.1 }, 10);
    assert.equal(r.version, 2, 'a heartbeat that changes nothing is no change');
    vs.push(r.setDraining('a', true)!.v);
    assert.equal(r.setDraining('nobody', true), undefined);
    vs.push(r.deregister('b')!.v);
    assert.equal(r.deregister('b'), undefined);
    vs.push(...r.expire(10 + 2.5 * HB + 1).map((e) => e.v));
    assert.deepEqual(vs, [1, 2, 3, 4, 5]);
    assert.equal(r.version, 5);
  });

  test('loads are published by flushLoads only, once per instance, and only when they moved', () => {
    const r = new Registry({ heartbeatMs: HB });
    r.register(reg('a'), 0);
    r.register(reg('b'), 0);
    r.heartbeat('a', { inFlight: 0, elu: 0.12 }, 1);
    assert.equal(r.get('a')?.load.elu, 0.12, 'a query sees the latest load at once');
    assert.deepEqual(r.flushLoads(), [], 'an ELU jitter under 0.05 is not published');
    r.heartbeat('a', { inFlight: 3, elu: 0.1 }, 2);
    r.heartbeat('a', { inFlight: 4, elu: 0.1 }, 3);
    r.heartbeat('b', { inFlight: 0, elu: 0.5 }, 3);
    const flushed = r.flushLoads();
    assert.deepEqual(
      flushed.map((e) => [e.type, e.type === 'load' ? e.instanceId : '', e.v]),
      [
        ['load', 'a', 3],
        ['load', 'b', 4],
      ],
    );
    assert.deepEqual((flushed[0] as VersionedEvent & { type: 'load' }).load, { inFlight: 4, elu: 0.1 });
    assert.deepEqual(r.flushLoads(), [], 'nothing new since the last flush');
    r.heartbeat('a', { inFlight: 5, elu: 0.1 }, 4);
    r.heartbeat('a', { inFlight: 4, elu: 0.1 }, 5);
    assert.deepEqual(r.flushLoads(), [], 'a load that moved back before the flush is not news');
    r.heartbeat('a', { inFlight: 9, elu: 0.1 }, 6);
    r.deregister('a');
    assert.deepEqual(r.flushLoads(), [], 'no load event for an instance that left');
  });

  test('a new record takes the instance draining claim; a known one keeps the operator flag', () => {
    const r = new Registry({ heartbeatMs: HB });
    assert.equal(r.register(reg('a', { draining: true }), 0).record.draining, true);
    assert.equal(r.isDraining('a'), true);
    r.setDraining('a', false);
    assert.equal(r.register(reg('a', { draining: true }), 1).record.draining, false, 'the operator decides');
    assert.equal(r.register(reg('b'), 0).record.draining, false);
    assert.equal(r.isDraining('nobody'), undefined);
  });

  test('heartbeat stalledMs is kept on the record and cleared by the next normal beat', () => {
    const r = new Registry({ heartbeatMs: HB });
    r.register(reg('a'), 0);
    r.heartbeat('a', { inFlight: 0, elu: 0.1 }, 1, 1800);
    assert.equal(r.get('a')?.stalledMs, 1800);
    r.heartbeat('a', { inFlight: 0, elu: 0.1 }, 2);
    assert.equal(r.get('a')?.stalledMs, undefined);
  });

  test('versions and ticks survive the wire', () => {
    const up = new Registry({ heartbeatMs: HB }).register(reg('a'), 0).event;
    const back = decodeEvent(encodeEvent(up).map((f) => Buffer.from(f)));
    assert.equal(back?.v, 1);
    const tick = decodeEvent(encodeEvent({ type: 'tick', startedAt: 123, v: 7 }).map((f) => Buffer.from(f)));
    assert.deepEqual(tick, { type: 'tick', startedAt: 123, v: 7 });
    const badVersion = encodeEvent({ type: 'tick', startedAt: 1, v: -3 }).map((f) => Buffer.from(f));
    assert.equal(decodeEvent(badVersion), undefined);
  });
});

describe('FeedCursor', () => {
  const down = (id: string, v: number): YellowEvent => ({
    type: 'down',
    instanceId: id,
    role: 'player',
    reason: 'expired',
    v,
  });

  test('applies the next version, skips duplicates, applies a jump and asks for a resync', () => {
    const c = new FeedCursor();
    c.beginResync();
    assert.deepEqual(c.endResync(4, 100), { replay: [], gap: false });
    assert.deepEqual(c.accept(down('a', 5)), { apply: true });
    assert.deepEqual(c.accept(down('a', 5)), { apply: false }, 'a duplicate');
    assert.deepEqual(c.accept(down('a', 3)), { apply: false }, 'already in the snapshot');
    assert.deepEqual(c.accept(down('b', 7)), { apply: true, resync: 'gap' }, 'version 6 was lost');
    assert.equal(c.version, 5);
  });

  test('a tick reveals a lost last change and a restarted Yellow', () => {
    const c = new FeedCursor();
    c.beginResync();
    c.endResync(4, 100);
    assert.deepEqual(c.accept({ type: 'tick', startedAt: 100, v: 4 }), { apply: false });
    assert.deepEqual(c.accept({ type: 'tick', startedAt: 100, v: 5 }), { apply: false, resync: 'gap' });
    assert.deepEqual(c.accept({ type: 'tick', startedAt: 200, v: 1 }), { apply: false, resync: 'restart' });
  });

  test('events that raced a resync answer are replayed when newer than the snapshot', () => {
    const c = new FeedCursor();
    c.beginResync();
    c.endResync(4, 100);
    c.beginResync();
    // Arrive while the query is out, before its answer: v5 is in the snapshot, v6 and v7 are not.
    assert.deepEqual(c.accept(down('x', 5)), { apply: true });
    assert.deepEqual(c.accept(down('y', 7)), { apply: true });
    assert.deepEqual(c.accept(down('z', 6)), { apply: true });
    assert.deepEqual(c.accept({ type: 'tick', startedAt: 100, v: 7 }), { apply: false }, 'no gap while resyncing');
    const { replay, gap } = c.endResync(5, 100);
    assert.deepEqual(
      replay.map((e) => e.v),
      [6, 7],
    );
    assert.equal(gap, false);
    assert.equal(c.version, 7);
  });

  test('a hole among the raced events is still a gap; a Yellow without versions is not tracked', () => {
    const c = new FeedCursor();
    c.beginResync();
    c.accept(down('y', 9));
    assert.equal(c.endResync(5, 100).gap, true);
    assert.equal(c.version, 5);
    c.beginResync();
    assert.deepEqual(c.endResync(-1, 100), { replay: [], gap: false });
    assert.equal(c.version, undefined);
    assert.deepEqual(c.accept({ type: 'down', instanceId: 'a', role: 'p', reason: 'expired' }), { apply: true });
  });
});

describe('Directory.resync', () => {
  test('replaces one Yellow view; absent ids go down unless another Yellow lists them', () => {
    const dir = new Directory();
    const downs: string[] = [];
    dir.on('down', (d) => downs.push(`${d.instanceId}:${d.reason}`));
    dir.resync(0, { instances: [rec('a'), rec('b'), rec('c')], warmingUp: false });
    dir.resync(1, { instances: [rec('c')], warmingUp: false });
    assert.equal(dir.size, 3);
    dir.resync(0, { instances: [rec('a')], warmingUp: false });
    assert.deepEqual(downs, ['b:absent'], 'c is still listed by Yellow 1');
    dir.resync(1, { instances: [], warmingUp: false });
    assert.deepEqual(downs, ['b:absent', 'c:absent']);
  });

  test('a warming-up Yellow only adds; the first Yellow in order wins a record', () => {
    const dir = new Directory();
    dir.resync(0, { instances: [rec('a', { epoch: 10 })], warmingUp: false });
    dir.resync(1, { instances: [rec('a', { epoch: 20 }), rec('b')], warmingUp: false });
    assert.equal(dir.get('a')?.epoch, 10);
    dir.resync(0, { instances: [], warmingUp: true });
    assert.equal(dir.isAlive('a'), true, 'a restarted Yellow that has not refilled removes nothing');
    const downs: string[] = [];
    dir.on('down', (d) => downs.push(d.instanceId));
    dir.resync(0, { instances: [], warmingUp: false });
    assert.deepEqual(downs, [], 'Yellow 1 still lists a');
    assert.equal(dir.get('a')?.epoch, 10, 'a record is not replaced by a later Yellow until it resyncs');
    dir.resync(1, { instances: [rec('a', { epoch: 21 }), rec('b')], warmingUp: false });
    assert.equal(dir.get('a')?.epoch, 21);
  });

  test('events keep views: an up joins the source view; a down leaves every view', () => {
    const dir = new Directory();
    dir.resync(0, { instances: [], warmingUp: false });
    dir.apply({ type: 'up', instance: rec('a'), v: 1 }, Date.now(), 0);
    dir.apply({ type: 'load', instanceId: 'a', load: { inFlight: 2, elu: 0 }, v: 2 }, Date.now(), 0);
    assert.equal(dir.get('a')?.load.inFlight, 2);
    const downs: string[] = [];
    dir.on('down', (d) => downs.push(d.instanceId));
    dir.resync(0, { instances: [], warmingUp: false });
    assert.deepEqual(downs, ['a'], 'the up put a in Yellow 0 view, so its absence counts');
    dir.apply({ type: 'up', instance: rec('b') }, Date.now(), 1);
    dir.apply({ type: 'down', instanceId: 'b', role: 'player', reason: 'expired' }, Date.now(), 0);
    assert.equal(dir.isAlive('b'), false);
    dir.resync(1, { instances: [], warmingUp: false });
    assert.deepEqual(downs, ['a', 'b'], 'no second down for b');
  });
});
