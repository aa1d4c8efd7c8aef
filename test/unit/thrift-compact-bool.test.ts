// Bools inside containers with the compact protocol: each is a byte of its own, which the stock
// reader read as false every time. A duel's `drawn` map is one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DuelState, Events } from '../../shared/protocol';
import { events } from '../../shared/thrift/events';
import { openMessage } from '../../shared/thrift/messages';

const CAPS = { maxString: 1 << 20, maxContainer: 10_000, maxDepth: 32 };

test('a map<string, bool> keeps its true values through a compact push', () => {
  const drawn = new Map([
    ['a', true],
    ['b', false],
    ['c', true],
  ]);
  const { input } = openMessage(events.duelUpdated(new DuelState({ duelId: 'd', drawn })), CAPS);
  assert.equal(input.readMessageBegin().fname, 'Events:duelUpdated');
  assert.deepEqual([...(Events.DuelUpdatedArgs.read(input).state.drawn ?? new Map())], [...drawn]);
});
