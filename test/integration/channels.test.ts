// Channels on real processes (`noon start`: Yellow, sso, player, 2 channels, 2 brokers; a
// publishing service in this process): 1,000 subscriptions with different filters over 100 SDK
// clients spread over both brokers, each receiving exactly the messages its filter matches, in
// seq order; refusals of a subscriber and a publisher without permission and of a bad filter.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Channels, ErrorCode, Events, type ChannelMessage } from '../../shared/protocol';
import { loadConfig } from '../../shared/config';
import { silentLogger } from '../../shared/log';
import { startService, type RunningService } from '../../roles/service';
import { toAttributes, type Attributes, type ChannelEvent, type NoonClient } from '../../client';
import { RoomsCluster, type RoleProc } from '../support/rooms-cluster';
import { until } from '../support/wait';

const RULES =
  'news.* publish=services subscribe=users; game.* publish=users subscribe=users; inbox.{user} publish=services subscribe=users';
const CLIENTS = 100;
const CHANNELS = 10;
const MESSAGES = 60;

type Attrs = { region: string; level: number; vip: boolean; kind: string; score: number; tag?: string };

/** Each filter beside the same condition in plain code, to know what it must receive. */
const FILTERS: Array<[string, (a: Attrs) => boolean]> = [
  ["region = 'eu'", (a) => a.region === 'eu'],
  ["region = 'eu' AND level >= 10", (a) => a.region === 'eu' && a.level >= 10],
  ["region IN ('us', 'asia') OR vip = TRUE", (a) => a.region !== 'eu' || a.vip],
  ['NOT level < 20', (a) => a.level >= 20],
  ["kind LIKE 'goal%'", (a) => a.kind.startsWith('goal')],
  ["level > 5 AND level <= 15 AND region != 'asia'", (a) => a.level > 5 && a.level <= 15 && a.region !== 'asia'],
  ["vip = FALSE AND kind NOT LIKE '%card'", (a) => !a.vip && !a.kind.endsWith('card')],
  ['score >= 0.5', (a) => a.score >= 0.5],
  ["region = 'mars'", () => false],
  ['tag IS NULL', (a) => a.tag === undefined],
];

function attrsOf(channel: number, i: number): Attrs {
  const a: Attrs = {
    region: ['eu', 'us', 'asia'][i % 3] as string,
    level: (i * 7 + channel) % 30,
    vip: i % 4 === 0,
    kind: ['goal', 'yellow card', 'red card', 'goal kick'][(i * 3 + channel) % 4] as string,
    score: ((i * 13) % 10) / 10,
  };
  if (i % 5 === 0) a.tag = 'x';
  return a;
}

let cluster: RoomsCluster;
let newsdesk: RunningService;
const channelsProcs: RoleProc[] = [];
const clients: NoonClient[] = [];

async function gameError(p: Promise<unknown>, code: ErrorCode, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: { code?: number; message?: string }) => {
    assert.equal(err.code, code, `code of ${String(err.message)}`);
    assert.match(String(err.message), message);
    return true;
  });
}

before(async () => {
  cluster = new RoomsCluster({ heartbeatMs: 500, env: { NOON_CHANNEL_RULES: RULES } });
  await cluster.start(0, 2);
  channelsProcs.push(...(await Promise.all([cluster.role('channels'), cluster.role('channels')])));
  const yellow = String(cluster.env().NOON_YELLOW);
  const cfg = loadConfig({ yellow: [yellow], heartbeatMs: 500, logLevel: 'silent' }, {});
  // A game service of the test's own, publishing through the service API.
  newsdesk = await startService(
    'newsdesk',
    () => ({
      role: 'newsdesk',
      thriftService: 'Newsdesk',
      processor: Events.Processor,
      stateful: false,
      handlers: {} as never,
    }),
    { cfg, logger: silentLogger(), processMetrics: false },
  );
  await until('the newsdesk sees both channels instances', () => cluster.live('channels').length === 2, 30_000);
  for (let k = 0; k < CLIENTS; k++) clients.push(await cluster.client());
  // a few at a time: the broker refuses logins beyond a handful in progress (BUSY)
  for (let k = 0; k < CLIENTS; k += 5)
    await Promise.all(
      clients.slice(k, k + 5).map((c, i) => c.sso.register(`chan-user-${k + i}`, `pw-chan-user-${k + i}`)),
    );
  await until(
    'every client reaches Channels',
    async () =>
      (
        await Promise.all(
          clients.map((c) =>
            c
              .service(Channels.Client, 'Channels')
              .ping()
              .then(
                () => true,
                () => false,
              ),
          ),
        )
      ).every(Boolean),
    30_000,
  );
});

after(async () => {
  for (const c of clients) c.close();
  await newsdesk?.stop();
  await Promise.all(channelsProcs.map((r) => r.proc.stop('SIGTERM', 10_000)));
  await cluster?.stop();
});

test('1,000 subscriptions over 2 brokers each receive exactly the messages their filter matches, in order', async () => {
  const endpoints = new Set(clients.map((c) => c.endpoint));
  assert.equal(endpoints.size, 2, 'the clients are spread over both brokers');
  const got = new Map<string, number[]>();
  const subs: Array<{ key: string; channel: number; test: (a: Attrs) => boolean }> = [];
  await Promise.all(
    clients.map(async (c, k) => {
      for (let ch = 0; ch < CHANNELS; ch++) {
        const [condition, test] = FILTERS[(k + ch) % FILTERS.length] as [string, (a: Attrs) => boolean];
        const key = `${k}/${ch}`;
        const seqs: number[] = [];
        got.set(key, seqs);
        // every filter also matches the closing message, so each subscriber knows when it has all
        await c.channels.subscribe(`news.c${ch}`, (m: ChannelEvent) => seqs.push(m.seq), {
          filter: `(${condition}) OR end = TRUE`,
        });
        subs.push({ key, channel: ch, test });
      }
    }),
  );
  assert.equal(subs.length, CLIENTS * CHANNELS);

  const publisher = newsdesk.env.services().channels;
  const published = new Map<number, Array<{ seq: number; attrs: Attrs | undefined }>>();
  const latencies: number[] = [];
  await Promise.all(
    Array.from({ length: CHANNELS }, async (_, ch) => {
      const list: Array<{ seq: number; attrs: Attrs | undefined }> = [];
      published.set(ch, list);
      // one channel's messages one after another (all channels at once): each reply gives its seq
      const sent: ChannelMessage[] = [];
      for (let i = 0; i < MESSAGES; i++) {
        const t0 = Date.now();
        sent.push(
          await publisher.publishAsService(
            `news.c${ch}`,
            toAttributes(attrsOf(ch, i) as unknown as Attributes),
            Buffer.from(`m${i}`),
          ),
        );
        latencies.push(Date.now() - t0);
      }
      sent.forEach((m: ChannelMessage, i) => list.push({ seq: Number(String(m.seq)), attrs: attrsOf(ch, i) }));
      const end = await publisher.publishAsService(`news.c${ch}`, toAttributes({ end: true }), Buffer.alloc(0));
      list.push({ seq: Number(String(end.seq)), attrs: undefined });
    }),
  );
  latencies.sort((a, b) => a - b);
  console.log(
    `publish latency p50 ${latencies[latencies.length >> 1]} ms, max ${latencies.at(-1)} ms over ${latencies.length}`,
  );
  for (const list of published.values())
    assert.deepEqual(
      list.map((m) => m.seq).sort((a, b) => a - b),
      Array.from({ length: MESSAGES + 1 }, (_, i) => i + 1),
      'each channel numbered 1..n without gaps',
    );

  const expected = new Map<string, number[]>();
  let total = 0;
  for (const s of subs) {
    const want = (published.get(s.channel) ?? [])
      .filter((m) => m.attrs === undefined || s.test(m.attrs))
      .map((m) => m.seq)
      .sort((a, b) => a - b);
    expected.set(s.key, want);
    total += want.length;
  }
  await until(
    'every subscriber received its closing message',
    () => subs.every((s) => got.get(s.key)?.at(-1) === expected.get(s.key)?.at(-1)),
    60_000,
  );
  for (const s of subs) assert.deepEqual(got.get(s.key), expected.get(s.key), `subscription ${s.key}`);
  const received = [...got.values()].reduce((n, l) => n + l.length, 0);
  assert.equal(received, total, 'exactly the matching messages, none twice');
  console.log(`channels: ${subs.length} subscriptions, ${CHANNELS * (MESSAGES + 1)} messages, ${received} deliveries`);
});

test('refusals: a subscriber and a publisher without permission, a bad filter naming its position', async () => {
  const [ann, bob] = clients as [NoonClient, NoonClient];
  const annId = String(ann.session?.userId);
  const bobId = String(bob.session?.userId);
  await gameError(
    ann.channels.subscribe(`inbox.${bobId}`, () => {}),
    ErrorCode.FORBIDDEN,
    new RegExp(`only user ${bobId} may subscribe on inbox\\.${bobId} \\(rule inbox\\.\\{user\\}\\)`),
  );
  await gameError(
    ann.channels.subscribe('secret.x', () => {}),
    ErrorCode.FORBIDDEN,
    /no channel rule matches secret\.x/,
  );
  await gameError(
    ann.channels.publish('news.c0', { region: 'eu' }),
    ErrorCode.FORBIDDEN,
    /only services may publish on news\.c0 \(rule news\.\*\)/,
  );
  await gameError(
    ann.channels.subscribe('news.c0', () => {}, { filter: "region = 'eu' AND AND level >= 10" }),
    ErrorCode.BAD_REQUEST,
    /filter: .*at character 19/,
  );
  await gameError(
    ann.channels.subscribe('news..c0', () => {}),
    ErrorCode.BAD_REQUEST,
    /segment "" of channel/,
  );
  // a service's method is refused from a client by the broker
  await assert.rejects(
    ann.service(Channels.Client, 'Channels').publishAsService('news.c0', new Map(), Buffer.alloc(0)),
    /FORBIDDEN|internal/i,
  );

  // allowed: a user's own inbox, and a user publishing on game.*, seen by a filtered subscriber
  await ann.channels.subscribe(`inbox.${annId}`, () => {});
  const seen: ChannelEvent[] = [];
  await bob.channels.subscribe('game.arena', (m) => seen.push(m), { filter: 'level >= 3' });
  for (const level of [1, 5, 2, 9]) await ann.channels.publish('game.arena', { level, who: annId }, `l${level}`);
  await until('bob saw the two messages his filter matches', () => seen.length >= 2, 20_000);
  assert.deepEqual(
    seen.map((m) => [m.attributes.level, m.payload.toString(), m.publisher]),
    [
      [5, 'l5', annId],
      [9, 'l9', annId],
    ],
  );
});
