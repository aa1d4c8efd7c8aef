/**
 * Which broker an SDK tries first. pickBroker is the lowest load; the reconnecting SDK draws its
 * first choice in proportion to headroom ((1 - load)², never 0) so a reconnect storm splits over the
 * brokers, and avoided brokers (the one just lost) always go last.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rankBrokers, type BrokerInfo } from '../../client/brokerlist';

const b = (instanceId: string, load: number): BrokerInfo => ({ instanceId, tcp: `${instanceId}:1`, load });

describe('rankBrokers with a random draw', () => {
  const cases: { name: string; brokers: BrokerInfo[]; avoid?: string[]; draw: number; order: string[] }[] = [
    { name: 'no draw: load order', brokers: [b('x', 0.5), b('y', 0.1)], draw: -1, order: ['y', 'x'] },
    { name: 'equal loads, low draw: the first', brokers: [b('x', 0.2), b('y', 0.2)], draw: 0.1, order: ['x', 'y'] },
    { name: 'equal loads, high draw: the second', brokers: [b('x', 0.2), b('y', 0.2)], draw: 0.9, order: ['y', 'x'] },
    // weights: y 0.81, x 0.01 -> x only for draws past 0.81 / 0.82
    { name: 'a full broker is rarely first', brokers: [b('x', 0.99), b('y', 0.1)], draw: 0.98, order: ['y', 'x'] },
    {
      name: 'the avoided broker is never drawn',
      brokers: [b('x', 0), b('y', 0.9)],
      avoid: ['x:1'],
      draw: 0,
      order: ['y', 'x'],
    },
    {
      name: 'only avoided brokers: load order',
      brokers: [b('x', 0.3), b('y', 0.1)],
      avoid: ['x:1', 'y:1'],
      draw: 0.5,
      order: ['y', 'x'],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const random = c.draw < 0 ? undefined : () => c.draw;
      const ranked = rankBrokers(c.brokers, 'tcp', new Set(c.avoid ?? []), random);
      assert.deepEqual(
        ranked.map((x) => x.instanceId),
        c.order,
      );
    });
  }

  test('1,000 draws over three equally loaded brokers split roughly evenly', () => {
    let seed = 7;
    const random = (): number => (seed = (seed * 48271) % 2147483647) / 2147483647;
    const counts = new Map<string, number>();
    for (let i = 0; i < 1000; i++) {
      const first = rankBrokers([b('x', 0.1), b('y', 0.1), b('z', 0.1)], 'tcp', new Set(), random)[0];
      counts.set(first?.instanceId ?? '', (counts.get(first?.instanceId ?? '') ?? 0) + 1);
    }
    for (const id of ['x', 'y', 'z']) assert.ok((counts.get(id) ?? 0) > 250, `${id}: ${counts.get(id)}`);
  });
});
