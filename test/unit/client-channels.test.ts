import { test } from 'node:test';
import assert from 'node:assert/strict';
import type Int64 from 'node-int64';
import { ChannelTracker, toAttributes, toEvent, type ChannelEvent } from '../../client/channels';
import { ChannelMessage, ChannelPage, ChannelSubscription, type Channels } from '../../shared/protocol';
import { compileChannelFilter, attributeRow } from '../../shared/channels';
import { until } from '../support/wait';

/** A channel's stored messages and a Channels API over them (history filtered like the service's). */
function fakeChannel(lastSeqAtSubscribe: number) {
  const stored: ChannelMessage[] = [];
  const add = (seq: number, level: number): ChannelMessage => {
    const m = new ChannelMessage({
      channel: 'c',
      seq,
      attributes: toAttributes({ level }),
      payload: Buffer.from(`m${seq}`),
      publisher: 'service',
      sentAtMs: 0,
    });
    stored.push(m);
    return m;
  };
  const api = {
    subscribe: async (channel: string, filter: string) =>
      new ChannelSubscription({ channel, filter, lastSeq: lastSeqAtSubscribe }),
    unsubscribe: async () => undefined,
    history: async (_c: string, after: Int64, _limit: number, filter: string) => {
      const f = compileChannelFilter(filter);
      const a = Number(after.toString());
      const last = stored.length === 0 ? 0 : Math.max(...stored.map((m) => Number(String(m.seq))));
      const messages = stored.filter((m) => Number(String(m.seq)) > a && f.matches(attributeRow(m.attributes)));
      return new ChannelPage({ messages, scannedTo: Math.max(a, last), lastSeq: last });
    },
  } as unknown as Channels.Client;
  return { api, add };
}

test('a gap the broker tells of is read from history with the filter; later messages wait for it', async () => {
  const { api, add } = fakeChannel(0);
  const tracker = new ChannelTracker(api, { settleMs: 60_000 });
  const got: number[] = [];
  await tracker.subscribe('c', (m: ChannelEvent) => got.push(m.seq), { filter: 'level >= 5' });
  tracker.onMessage(add(1, 7));
  // 2..4 never reached the broker: 2 and 4 match the filter, 3 does not
  add(2, 9);
  add(3, 1);
  add(4, 5);
  tracker.onGap('c', 2, 4);
  tracker.onMessage(add(5, 6)); // past the gap: held until it is filled
  tracker.onMessage(add(5, 6)); // a duplicate
  await until('the gap is repaired', () => got.length >= 4, 5000);
  assert.deepEqual(got, [1, 2, 4, 5]);
  assert.equal(tracker.stats.repairs, 1);
  assert.ok(tracker.stats.duplicates >= 1);
  assert.equal(tracker.lastSeq('c'), 5);
});

test('a message past the snapshot that arrived before the subscribe answered is delivered once, in order', async () => {
  const { api, add } = fakeChannel(3);
  const tracker = new ChannelTracker(api, { settleMs: 60_000 });
  const got: number[] = [];
  const subscribing = tracker.subscribe('c', (m: ChannelEvent) => got.push(m.seq));
  tracker.onMessage(add(4, 1));
  await subscribing;
  tracker.onMessage(add(5, 1));
  await until('both delivered', () => got.length >= 2, 5000);
  assert.deepEqual(got, [4, 5]);
});

test('typed attributes go out as the IDL values and come back as JS values', () => {
  const attrs = toAttributes({ region: 'eu', level: 12, score: 0.5, vip: true, big: 2n ** 60n, neg: -3 });
  assert.equal(attrs.get('region')?.text, 'eu');
  assert.equal(attrs.get('level')?.integer?.toNumber(), 12);
  assert.equal(attrs.get('score')?.real, 0.5);
  assert.equal(attrs.get('vip')?.flag, true);
  const m = new ChannelMessage({ channel: 'x', seq: 1, attributes: attrs, payload: Buffer.from('p'), publisher: 'u' });
  assert.deepEqual(toEvent(m).attributes, { region: 'eu', level: 12, score: 0.5, vip: true, big: 2n ** 60n, neg: -3 });
});
