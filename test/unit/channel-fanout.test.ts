import { test } from 'node:test';
import assert from 'node:assert/strict';
import Int64 from 'node-int64';
import { ChannelFanOut, type ChannelSubscriber } from '../../broker/channel-fanout';
import { attributeRow, attributesProblem, compileChannelFilter } from '../../shared/channels';
import { ChannelValue } from '../../shared/protocol';
import { QueryError, type Row } from '../../shared/query';

/** What a subscriber received: message numbers, and gaps as "gap a-b". */
function subscriber(id: string, alive = () => true): ChannelSubscriber & { got: string[] } {
  const got: string[] = [];
  return {
    id,
    got,
    deliver: (m: Buffer) => {
      got.push(m.toString());
      return alive();
    },
  };
}

const gap = (_c: string, from: number, to: number): Buffer => Buffer.from(`gap ${from}-${to}`);
const msg = (seq: number): Buffer => Buffer.from(String(seq));
const filter = (f: string) => [compileChannelFilter(f), f.trim() === ''] as const;

function offer(fan: ChannelFanOut, seq: number, row: Row, reads?: { n: number }): void {
  fan.offer(seq, msg(seq), () => {
    if (reads) reads.n++;
    return row;
  });
}

test('each subscriber gets exactly the messages its filter matches, in order; attributes read once', () => {
  const fan = new ChannelFanOut('news.eu', gap);
  const eu = subscriber('eu');
  const high = subscriber('high');
  const all = subscriber('all');
  fan.add(eu, ...filter("region = 'eu'"), 0);
  fan.add(high, ...filter("WHERE region = 'eu' AND level >= 10"), 0);
  fan.add(all, ...filter(''), 0);
  const rows: Row[] = [
    { region: 'eu', level: 5 },
    { region: 'us', level: 50 },
    { region: 'eu', level: 10 },
    { level: 99 },
  ];
  const reads = { n: 0 };
  rows.forEach((row, i) => offer(fan, i + 1, row, reads));
  assert.deepEqual(eu.got, ['1', '3']);
  assert.deepEqual(high.got, ['3']);
  assert.deepEqual(all.got, ['1', '2', '3', '4']);
  assert.equal(reads.n, 4, 'one attribute read per message, not per subscriber');
  assert.deepEqual(fan.counts, { delivered: 7, filtered: 5, duplicates: 0, gaps: 0 });
});

test('a duplicate or an old seq is dropped; a seq past a gap is preceded by the gap notice', () => {
  const fan = new ChannelFanOut('c', gap);
  const s = subscriber('s');
  fan.add(s, ...filter(''), 10);
  for (const seq of [9, 10, 11, 11, 14, 12, 15]) offer(fan, seq, {});
  assert.deepEqual(s.got, ['11', 'gap 12-13', '14', '15']);
  assert.deepEqual(fan.counts, { delivered: 3, filtered: 0, duplicates: 4, gaps: 1 });
});

test('a gap is told even to a subscriber whose filter drops the message past it', () => {
  const fan = new ChannelFanOut('c', gap);
  const s = subscriber('s');
  fan.add(s, ...filter('level > 100'), 0);
  offer(fan, 1, { level: 1 });
  offer(fan, 5, { level: 1 });
  assert.deepEqual(s.got, ['gap 2-4']);
});

test('a resubscription changes the filter but never goes back', () => {
  const fan = new ChannelFanOut('c', gap);
  const s = subscriber('s');
  fan.add(s, ...filter("kind = 'a'"), 0);
  offer(fan, 1, { kind: 'a' });
  offer(fan, 2, { kind: 'b' });
  fan.add(s, ...filter("kind = 'b'"), 1);
  offer(fan, 2, { kind: 'b' });
  offer(fan, 3, { kind: 'b' });
  assert.deepEqual(s.got, ['1', '3']);
  assert.equal(fan.size, 1);
});

test('a subscriber that is cut off is removed; the others go on', () => {
  const fan = new ChannelFanOut('c', gap);
  const dead = subscriber('dead', () => false);
  const live = subscriber('live');
  fan.add(dead, ...filter(''), 0);
  fan.add(live, ...filter(''), 0);
  offer(fan, 1, {});
  offer(fan, 2, {});
  assert.deepEqual(dead.got, ['1']);
  assert.deepEqual(live.got, ['1', '2']);
  assert.equal(fan.has(dead), false);
  assert.equal(fan.remove(live), true);
  assert.equal(fan.size, 0);
});

test('attributes become the row a filter reads; bad ones are refused naming the attribute', () => {
  const attrs = new Map([
    ['region', new ChannelValue({ text: 'eu' })],
    ['level', new ChannelValue({ integer: new Int64(12) })],
    ['score', new ChannelValue({ real: 1.5 })],
    ['vip', new ChannelValue({ flag: true })],
    ['__proto__', new ChannelValue({ text: 'x' })],
  ]);
  assert.equal(attributesProblem(attrs), undefined);
  const row = attributeRow(attrs);
  assert.deepEqual({ ...row }, { region: 'eu', level: 12, score: 1.5, vip: true, ['__proto__']: 'x' });
  assert.ok(compileChannelFilter("region = 'eu' AND level >= 10 AND vip = TRUE AND score < 2").matches(row));
  assert.ok(!compileChannelFilter('level > 12').matches(row));
  assert.match(attributesProblem(new Map([['x', new ChannelValue({})]])) ?? '', /attribute x must set exactly one/);
  assert.match(
    attributesProblem(new Map([['x', new ChannelValue({ text: 'a', flag: true })]])) ?? '',
    /exactly one of text, integer, real, flag/,
  );
  assert.match(attributesProblem(new Map([['1x', new ChannelValue({ flag: true })]])) ?? '', /attribute name "1x"/);
  assert.match(attributesProblem(new Map([['r', new ChannelValue({ real: NaN })]])) ?? '', /not a finite number/);
});

test('a bad filter names its position; a SELECT is not a channel filter', () => {
  assert.throws(
    () => compileChannelFilter("region = 'eu' AND AND level >= 10"),
    (err: unknown) => err instanceof QueryError && err.position === 18 && /at character 19/.test(err.message),
  );
  assert.throws(() => compileChannelFilter('SELECT a FROM calls'), /not a SELECT/);
});
