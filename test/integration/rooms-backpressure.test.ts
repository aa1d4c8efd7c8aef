// A hot room is backpressure, not an outage, on real processes (test/support/rooms-cluster.ts):
// a room's owner holds at most NOON_CHAT_ROOM_QUEUE = 10 messages waiting to be stored, and five
// senders keep 100 in flight at it (ten times what it takes). Senders get BUSY (counted by the
// owner as noon_dropped_total{reason="chat_busy"}), Yellow
// declares nobody down, nobody gets roomClosed, a calm room keeps working, and among the
// accepted messages none is lost or doubled: the room's stored seqs are 1..n, every accepted
// message is stored under its seq, and a member receives exactly the stored list, in order.
// Quiet rooms owned by the same instance as the hot room keep going during the flood: each is
// sent QUIET_PER_WAVE messages while every wave is in flight, none is refused, and each quiet
// member ends with exactly its room's full sequence.
// A room's owner stores at most NOON_CHAT_ROOM_RATE messages of one room per second (a second's
// worth at once): a room whose senders keep retrying BUSY is stored at that rate, which the
// rows' sent_at in Postgres (the moment each batch took its share) show exactly.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NoonClient } from '../../client';
import { errorCode } from '../../client/errors';
import { rendezvous } from '../../shared/hashing';
import { RoomsCluster } from '../support/rooms-cluster';
import { killAllProcesses } from '../support/process';
import { until } from '../support/wait';

const SENDERS = 5;
const IN_FLIGHT = 20;
const WAVES = 3;
/** the owner's room queue: SENDERS × IN_FLIGHT is ten times this */
const QUEUE = 10;
const QUIET_ROOMS = 3;
/** messages each quiet room is sent, one after another, while one wave of the flood is in flight */
const QUIET_PER_WAVE = 4;
/** the owner's per-room rate (messages stored per second, burst one second's worth) */
const RATE = 20;
/** messages the capped room's senders get accepted: three seconds' worth at RATE */
const CAPPED_ACCEPTED = 3 * RATE;

// The default heartbeat (Yellow expires an instance after 3 missed beats).
const cluster = new RoomsCluster({
  heartbeatMs: 1000,
  env: { NOON_CHAT_ROOM_QUEUE: String(QUEUE), NOON_CHAT_ROOM_RATE: String(RATE) },
});
const clients: NoonClient[] = [];

async function member(name: string, room: string, got: number[]): Promise<NoonClient> {
  const c = await cluster.client();
  clients.push(c);
  await c.sso.register(name, `pw-${name}`);
  c.on('chatMessage', (m) => {
    if (m.roomId === room) got.push(Number(m.seq?.toString()));
  });
  await c.chat.join(room);
  return c;
}

before(async () => {
  await cluster.start(2, 1);
});

after(async () => {
  for (const c of clients) c.close();
  await cluster.stop();
  killAllProcesses();
});

test('a room sent far more than its owner takes answers BUSY; nobody is declared down, nothing accepted is lost or doubled; quiet rooms on the same owner get every message', async () => {
  const tag = cluster.dbName.slice(-6);
  // Unique per run: the Redis recent lists (database 10) outlive a run.
  const [HOT, CALM] = [`hot-${tag}`, `calm-${tag}`];
  const hotSeen: number[] = [];
  const calmSeen: number[] = [];
  let closed = 0;
  const watcher = await member(`watch-${tag}`, HOT, hotSeen);
  const calmWatcher = await member(`calmw-${tag}`, CALM, calmSeen);
  for (const c of [watcher, calmWatcher]) c.on('roomClosed', () => closed++);
  const senders = await Promise.all(Array.from({ length: SENDERS }, (_, i) => member(`send${i}-${tag}`, HOT, [])));
  const calm = await member(`calm-${tag}`, CALM, []);
  // Quiet rooms the hot room's owner owns too (rendezvous over the chat instances, as the service hashes).
  const chats = cluster.live('chat');
  const hotOwner = rendezvous(HOT, chats);
  const quietRooms: string[] = [];
  for (let k = 0; quietRooms.length < QUIET_ROOMS; k++)
    if (rendezvous(`quiet${k}-${tag}`, chats) === hotOwner) quietRooms.push(`quiet${k}-${tag}`);
  const quietSeen = quietRooms.map(() => [] as number[]);
  const quiet = await Promise.all(
    quietRooms.map(async (room, i) => {
      const seen = quietSeen[i] as number[];
      const c = await member(`quietw${i}-${tag}`, room, seen);
      c.on('roomClosed', () => closed++);
      return member(`quiets${i}-${tag}`, room, []);
    }),
  );
  const quietRefused: string[] = [];

  const accepted = new Map<number, string>();
  const refused = new Map<string, number>();
  const why = new Map<string, string>();
  for (let w = 0; w < WAVES; w++) {
    const wave = Promise.all(
      senders.flatMap((c, i) =>
        Array.from({ length: IN_FLIGHT }, async (_, k) => {
          const text = `s${i}-w${w}-${k}`;
          try {
            const r = await c.chat.say(HOT, text);
            accepted.set(Number(r.seq?.toString()), text);
          } catch (err) {
            const code = errorCode(err) ?? 'other';
            refused.set(code, (refused.get(code) ?? 0) + 1);
            if (!why.has(code)) why.set(code, (err as Error).message);
          }
        }),
      ),
    );
    // the quiet rooms are sent theirs while the wave (issued first) is in flight
    await Promise.all(
      quiet.map(async (c, i) => {
        for (let k = 0; k < QUIET_PER_WAVE; k++)
          await c.chat.say(quietRooms[i] as string, `q${i}-w${w}-${k}`).catch((err: unknown) => {
            quietRefused.push(`${errorCode(err) ?? 'other'}: ${(err as Error).message}`);
          });
      }),
    );
    await wave;
  }
  for (let i = 0; i < 5; i++) await calm.chat.say(CALM, `calm-${i}`);

  if (process.env.ROOMS_DEBUG)
    for (const r of [...cluster.chats.values(), ...cluster.brokers.values()])
      process.stderr.write(`--- ${r.instanceId}\n${r.proc.tail(40)}\n`);
  if (process.env.ROOMS_DEBUG) process.stderr.write(`downs: ${JSON.stringify(cluster.downs)}\n`);
  assert.ok((refused.get('BUSY') ?? 0) > 0, `senders got BUSY (refusals: ${JSON.stringify([...refused])})`);
  assert.deepEqual([...refused.keys()], ['BUSY'], `BUSY is the only refusal: ${JSON.stringify([...why])}`);
  let counted = 0;
  for (const chat of cluster.chats.values()) {
    const metrics = await (await fetch(String(chat.ready.metrics))).text();
    counted += Number(/noon_dropped_total\{[^}]*reason="chat_busy"[^}]*\} (\d+)/.exec(metrics)?.[1] ?? 0);
  }
  assert.equal(counted, refused.get('BUSY'), 'the owner counted every BUSY (noon_dropped_total{reason="chat_busy"})');

  const rows = await cluster.sql.query('SELECT seq, text FROM chat_messages WHERE room_id = $1 ORDER BY seq', [HOT]);
  const stored = rows.map((r) => ({ seq: Number(r.seq), text: String(r.text) }));
  assert.equal(stored.length, accepted.size, 'exactly the accepted messages were stored');
  assert.deepEqual(
    stored.map((r) => r.seq),
    Array.from({ length: stored.length }, (_, i) => i + 1),
  );
  for (const [seq, text] of accepted) assert.equal(stored[seq - 1]?.text, text, `seq ${seq} is the accepted message`);
  await until('the watcher has every stored message', () => hotSeen.length >= stored.length, 60_000);
  assert.deepEqual(
    hotSeen,
    stored.map((r) => r.seq),
    'received once each, in order',
  );
  await until('the calm room delivered its five messages', () => calmSeen.length >= 5, 30_000);
  assert.deepEqual(calmSeen, [1, 2, 3, 4, 5]);
  assert.deepEqual(quietRefused, [], 'no say into a quiet room was refused during the flood');
  const quietTotal = WAVES * QUIET_PER_WAVE;
  for (const [i, room] of quietRooms.entries()) {
    const rows = await cluster.sql.query('SELECT seq, text FROM chat_messages WHERE room_id = $1 ORDER BY seq', [room]);
    assert.deepEqual(
      rows.map((r) => `${String(r.seq)} ${String(r.text)}`),
      Array.from({ length: quietTotal }, (_, n) => {
        const [w, k] = [Math.floor(n / QUIET_PER_WAVE), n % QUIET_PER_WAVE];
        return `${n + 1} q${i}-w${w}-${k}`;
      }),
      `quiet room ${room} stored every message sent to it, in the order sent`,
    );
    const seen = quietSeen[i] as number[];
    await until(`the member of ${room} has its ${quietTotal} messages`, () => seen.length >= quietTotal, 30_000);
    assert.deepEqual(
      seen,
      Array.from({ length: quietTotal }, (_, n) => n + 1),
      `the member of ${room} received each once, in order`,
    );
  }
  assert.equal(closed, 0, 'no roomClosed');
  assert.deepEqual(cluster.downs, [], 'Yellow declared nobody down');
});

async function busyCounted(): Promise<number> {
  let n = 0;
  for (const chat of cluster.chats.values()) {
    const metrics = await (await fetch(String(chat.ready.metrics))).text();
    n += Number(/noon_dropped_total\{[^}]*reason="chat_busy"[^}]*\} (\d+)/.exec(metrics)?.[1] ?? 0);
  }
  return n;
}

test('a room whose senders keep retrying BUSY is stored at its rate: at most RATE per second after a burst of RATE, nothing lost or doubled', async () => {
  const tag = cluster.dbName.slice(-6);
  const ROOM = `capped-${tag}`;
  const seen: number[] = [];
  await member(`cappedw-${tag}`, ROOM, seen);
  const senders = await Promise.all(Array.from({ length: 4 }, (_, i) => member(`csend${i}-${tag}`, ROOM, [])));
  const busy0 = await busyCounted();
  const accepted = new Map<number, string>();
  const other: string[] = [];
  let busy = 0;
  let next = 0;
  // Each sender keeps 3 says in flight until CAPPED_ACCEPTED are accepted; a BUSY is sent again
  // 50 ms later (pacing, so the retries stay under the broker's per-connection call rate).
  await Promise.all(
    senders.flatMap((c) =>
      Array.from({ length: 3 }, async () => {
        while (accepted.size < CAPPED_ACCEPTED) {
          const text = `c${next++}`;
          try {
            const r = await c.chat.say(ROOM, text);
            accepted.set(Number(r.seq?.toString()), text);
          } catch (err) {
            if (errorCode(err) !== 'BUSY') {
              other.push(`${errorCode(err) ?? 'other'}: ${(err as Error).message}`);
              return;
            }
            busy++;
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      }),
    ),
  );
  assert.deepEqual(other, [], 'BUSY is the only refusal');
  assert.ok(busy > 0, 'senders got BUSY');
  assert.equal((await busyCounted()) - busy0, busy, 'the owner counted every BUSY');

  const rows = await cluster.sql.query(
    'SELECT seq, text, (extract(epoch FROM sent_at) * 1000)::bigint AS ms FROM chat_messages WHERE room_id = $1 ORDER BY seq',
    [ROOM],
  );
  assert.equal(rows.length, accepted.size, 'exactly the accepted messages were stored');
  assert.deepEqual(
    rows.map((r) => Number(r.seq)),
    Array.from({ length: rows.length }, (_, i) => i + 1),
  );
  for (const [seq, text] of accepted) assert.equal(rows[seq - 1]?.text, text, `seq ${seq} is the accepted message`);
  // Batches as stored: [sent_at ms, messages]. Between any two batches (both counted) the room
  // was granted at most one burst plus RATE per second between them.
  const batches: Array<[number, number]> = [];
  for (const r of rows) {
    const ms = Number(r.ms);
    const last = batches.at(-1);
    if (last && last[0] === ms) last[1]++;
    else batches.push([ms, 1]);
  }
  for (let i = 0; i < batches.length; i++) {
    let sum = 0;
    for (let j = i; j < batches.length; j++) {
      const [from, to] = [batches[i] as [number, number], batches[j] as [number, number]];
      sum += to[1];
      assert.ok(
        sum <= RATE + (RATE * (to[0] - from[0])) / 1000,
        `${sum} messages stored in ${to[0] - from[0]} ms (batches ${i}..${j} of ${JSON.stringify(batches)})`,
      );
    }
  }
  await until('the member has every stored message', () => seen.length >= rows.length, 30_000);
  assert.deepEqual(
    seen,
    rows.map((r) => Number(r.seq)),
    'received once each, in order',
  );
  assert.deepEqual(cluster.downs, [], 'Yellow declared nobody down');
});
