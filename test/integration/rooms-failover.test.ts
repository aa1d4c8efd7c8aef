// Rooms survive scaling and failover, on real processes (test/support/rooms-cluster.ts): two
// brokers, three chat instances, 30 SDK members in 10 rooms talking while a fourth chat instance
// is added, one is drained, one is SIGKILLed and a broker is SIGKILLed (its members resume on the
// other). Every member ends with every message of its room exactly once and in order (the full
// seq lists, checked against Postgres), nobody got roomClosed, and Yellow reported down only the
// two killed processes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NoonClient } from '../../client';
import { errorCode } from '../../client/errors';
import { RoomsCluster } from '../support/rooms-cluster';
import { killAllProcesses } from '../support/process';
import { until } from '../support/wait';

const ROOMS = 10;
const MEMBERS = 30;
/** rounds of traffic (one message per member each) at most while one change is under way */
const ROUNDS_DURING = 3;

interface Member {
  name: string;
  room: string;
  client: NoonClient;
  /** seqs of its room's chatMessage events, in the order the app got them */
  seqs: number[];
  texts: Map<number, string>;
  closed: number;
  /** seq -> text of the messages this member sent and had accepted */
  accepted: Map<number, string>;
  refused: Map<string, number>;
  sent: number;
  /** the session made at register (a resume keeps it) */
  sessionId?: string;
}

const debug = (what: string): void => {
  if (process.env.ROOMS_DEBUG) process.stderr.write(`${new Date().toISOString()} ${what}\n`);
};

const cluster = new RoomsCluster({ heartbeatMs: 500 });
/** Unique per run: the Redis recent lists (database 10) outlive a run. */
const roomName = (k: number): string => `room-${cluster.dbName.slice(-6)}-${k}`;
const members: Member[] = [];

before(async () => {
  await cluster.start(3, 2);
  debug('cluster up');
  for (let i = 0; i < MEMBERS; i++) {
    const client = await cluster.client();
    const m: Member = {
      name: `m${i}-${cluster.dbName.slice(-6)}`,
      room: roomName(i % ROOMS),
      client,
      seqs: [],
      texts: new Map(),
      closed: 0,
      accepted: new Map(),
      refused: new Map(),
      sent: 0,
    };
    client.on('chatMessage', (msg) => {
      if (msg.roomId !== m.room) return;
      const seq = Number(msg.seq?.toString());
      m.seqs.push(seq);
      m.texts.set(seq, msg.text ?? '');
    });
    client.on('roomClosed', () => m.closed++);
    m.sessionId = (await client.sso.register(m.name, `pw-${m.name}`)).sessionId;
    members.push(m);
  }
  debug('members registered');
  for (const m of members) await m.client.chat.join(m.room);
  debug('members joined');
});

after(async () => {
  for (const m of members) m.client.close();
  await cluster.stop();
  killAllProcesses();
});

/** Each member sends its next message; refusals (BUSY, a room moving, a killed owner) are counted. */
async function round(): Promise<void> {
  debug(`round: ${members.reduce((n, m) => n + m.accepted.size, 0)} accepted`);
  await Promise.all(
    members.map(async (m) => {
      const text = `${m.name}#${m.sent++}`;
      try {
        const r = await m.client.chat.say(m.room, text);
        m.accepted.set(Number(r.seq?.toString()), text);
      } catch (err) {
        const code = errorCode(err) ?? 'other';
        m.refused.set(code, (m.refused.get(code) ?? 0) + 1);
      }
    }),
  );
}

/** Rounds of traffic while `change` happens (a bounded number), then two more after it. */
async function during(change: () => Promise<void>): Promise<void> {
  let settled = false;
  const changed = change().finally(() => (settled = true));
  changed.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
  for (let i = 0; i < ROUNDS_DURING && !settled; i++) await round();
  await changed;
  await round();
  await round();
}

async function roomHistory(room: string): Promise<{ seq: number; text: string }[]> {
  const rows = await cluster.sql.query('SELECT seq, text FROM chat_messages WHERE room_id = $1 ORDER BY seq', [room]);
  return rows.map((r) => ({ seq: Number(r.seq), text: String(r.text) }));
}

test('members keep every message of their rooms across a scale-up, a drain, a chat SIGKILL and a broker SIGKILL', async () => {
  await round();
  await during(async () => {
    const added = await cluster.startChat();
    await until('both brokers and every chat instance see the fourth chat instance', () =>
      cluster.live('chat').includes(added),
    );
  });
  const [toDrain, toKill] = [...cluster.chats.keys()];
  await during(() => cluster.drain(toDrain!));
  await during(() => cluster.kill(toKill!));
  const brokerToKill = [...cluster.brokers.keys()][0]!;
  const onKilled = members.filter((m) => m.client.endpoint === String(cluster.brokers.get(brokerToKill)!.ready.tcp));
  assert.ok(onKilled.length > 0, 'some members are on the broker that is killed');
  await during(async () => {
    await cluster.kill(brokerToKill);
    await until('its members resumed on the other broker', () => onKilled.every((m) => m.client.connected), 60_000);
  });
  // One last message per room after everything settled: a member still missing one repairs at it.
  for (let r = 0; r < ROOMS; r++) {
    const m = members.find((x) => x.room === roomName(r))!;
    const msg = await m.client.chat.say(m.room, `${m.name}#last`);
    m.accepted.set(Number(msg.seq?.toString()), `${m.name}#last`);
  }

  const truth = new Map<string, { seq: number; text: string }[]>();
  for (let r = 0; r < ROOMS; r++) truth.set(roomName(r), await roomHistory(roomName(r)));
  for (const [room, rows] of truth) {
    assert.deepEqual(
      rows.map((x) => x.seq),
      Array.from({ length: rows.length }, (_, i) => i + 1),
      `${room}: numbered 1..n without a gap across the owner changes`,
    );
    assert.equal(new Set(rows.map((x) => x.text)).size, rows.length, `${room}: no message stored twice`);
  }
  await until(
    'every member has every message of its room',
    () => members.every((m) => m.seqs.length >= (truth.get(m.room)?.length ?? 0)),
    60_000,
  ).catch((err: Error) => {
    // who is short, of which room, where it stopped, and which broker holds it now
    const short = members
      .filter((m) => m.seqs.length < (truth.get(m.room)?.length ?? 0))
      .map(
        (m) =>
          `${m.name} in ${m.room}: ${m.seqs.length} of ${truth.get(m.room)?.length}, last ${m.seqs.at(-1) ?? 'none'}, on ${m.client.endpoint}, roomClosed ${m.closed}, refused ${JSON.stringify([...m.refused])}, session ${m.client.session?.sessionId === m.sessionId ? 'same' : 'changed'}`,
      );
    throw new Error(`${err.message}; short: ${short.join('; ')}`);
  });
  for (const m of members) {
    const rows = truth.get(m.room)!;
    assert.deepEqual(
      m.seqs,
      rows.map((x) => x.seq),
      `${m.name}: every message of ${m.room} once, in order`,
    );
    for (const x of rows) assert.equal(m.texts.get(x.seq), x.text, `${m.name}: seq ${x.seq} is the stored message`);
    for (const [seq, text] of m.accepted)
      assert.equal(rows[seq - 1]?.text, text, `${m.name}: an accepted message is stored under its seq`);
    assert.equal(m.closed, 0, `${m.name}: no roomClosed`);
  }
  const total = [...truth.values()].reduce((n, rows) => n + rows.length, 0);
  const accepted = members.reduce((n, m) => n + m.accepted.size, 0);
  assert.ok(total >= accepted && accepted >= MEMBERS * 5, `${accepted} accepted of ${total} stored`);
  assert.deepEqual(
    [...new Set(cluster.downs)].sort(),
    [toKill!, brokerToKill].sort(),
    'Yellow reported down only the killed chat instance and the killed broker',
  );
});
