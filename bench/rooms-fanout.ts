/**
 * Room fan-out on one broker (part `fanout` of bench/rooms.ts), beside a bare TCP fan-out
 * process (procs/fanout.ts) with the same receivers and the same bytes.
 *
 * n members of one room: n - 1 of them spread over FANOUT_RECEIVERS receiver processes
 * (procs/room-members.ts: they count frames by their length prefix and check the seqs on a sample
 * of sockets), plus one probe member in this process that joined last, so it is written to after
 * every other member. One sender says in a closed loop with FANOUT_IN_FLIGHT messages in flight,
 * where a message is in flight until the probe has it: the offered load follows what the broker
 * turns around, never the chat owner's store rate, and no queue grows without bound. Deliveries
 * per second = messages per second × n. After each row every member must have received exactly
 * the messages said in it (none lost, none doubled), and every checked seq must be last + 1.
 */
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { ChatMessage } from '../shared/protocol';
import { events } from '../shared/thrift/events';
import { FrameDecoder } from '../edge/framing';
import { rawClient } from '../test/support/raw-client';
import { chatSeq, SeqCheck } from './lib/frame-count';
import { closedLoop, sleep, timings, type LoadResult } from './lib/load';
import { spawnReady, stopChild, waitFor, type Child } from './lib/procs';
import { progress } from './lib/table';

const MEMBERS = (process.env.BENCH_FANOUT_MEMBERS ?? '1000,4000').split(',').map(Number);
const IN_FLIGHT = Number(process.env.BENCH_FANOUT_IN_FLIGHT ?? 64);
const RECEIVERS = Number(process.env.BENCH_FANOUT_RECEIVERS ?? 4);
const ROUNDS = Number(process.env.BENCH_FANOUT_ROUNDS ?? 1);

interface Counts {
  frames: number;
  min: number;
  max: number;
  checked: number;
  bad: number;
  closed: number;
}

export interface FanoutRow {
  members: number;
  variant: 'noon' | 'bare';
  load: LoadResult;
  deliveriesPerSecond: number;
  /** CPU µs per delivery of the fanning-out process (broker or bare fan-out) */
  fanoutUsPerDelivery: number;
  /** cores used over the window by the fanning-out process, the receivers, the chat owner */
  cores: Record<string, number>;
  said: number;
  /** messages every member had before the measured loop started */
  primed: number;
  counts: Counts;
  probeBad: number;
}

/** A member socket of this process that is written to last; resolves waits for seqs it has seen. */
class Probe {
  highest = 0;
  readonly check = new SeqCheck();
  private readonly waiting = new Map<number, () => void>();

  constructor(readonly socket: Socket) {
    const decoder = new FrameDecoder(1 << 20);
    socket.on('data', (d: Buffer) => {
      for (const f of decoder.push(d)) this.offer(chatSeq(f));
    });
    socket.on('error', () => undefined);
  }

  seen(seq: number): Promise<void> {
    if (seq <= this.highest) return Promise.resolve();
    return new Promise((resolve) => this.waiting.set(seq, resolve));
  }

  private offer(seq: number | undefined): void {
    this.check.offer(seq);
    if (seq === undefined || seq <= this.highest) return;
    for (let s = this.highest + 1; s <= seq; s++) {
      this.waiting.get(s)?.();
      this.waiting.delete(s);
    }
    this.highest = seq;
  }
}

function framed(b: Buffer): Buffer {
  const out = Buffer.alloc(4 + b.length);
  out.writeUInt32BE(b.length, 0);
  b.copy(out, 4);
  return out;
}

async function tcpSocket(endpoint: string): Promise<Socket> {
  const [host, port] = endpoint.split(':');
  const s = connect(Number(port), host as string);
  s.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    s.once('connect', resolve);
    s.once('error', reject);
  });
  return s;
}

/** Asks every receiver for its counts (SIGUSR2, one JSON line each) and sums them. */
function countReader(receivers: Child[]): () => Promise<Counts> {
  const waiting = receivers.map(() => [] as Array<(c: Counts) => void>);
  receivers.forEach((r, i) =>
    createInterface({ input: r.proc.stdout! }).on('line', (line) => {
      const v = JSON.parse(line) as Partial<Counts>;
      if (typeof v.frames === 'number') waiting[i]?.shift()?.(v as Counts);
    }),
  );
  return async () => {
    const all = await Promise.all(
      receivers.map(
        (r, i) =>
          new Promise<Counts>((resolve) => {
            waiting[i]?.push(resolve);
            r.proc.kill('SIGUSR2');
          }),
      ),
    );
    return all.reduce((a, c) => ({
      frames: a.frames + c.frames,
      min: Math.min(a.min, c.min),
      max: Math.max(a.max, c.max),
      checked: a.checked + c.checked,
      bad: a.bad + c.bad,
      closed: a.closed + c.closed,
    }));
  };
}

async function spawnReceivers(
  mode: 'noon' | 'bare',
  endpoint: string,
  room: string,
  count: number,
  tag: string,
): Promise<Child[]> {
  const per = Math.ceil(count / RECEIVERS);
  const jobs: Promise<Child>[] = [];
  for (let i = 0, left = count; left > 0; i++, left -= per)
    jobs.push(
      spawnReady(
        `room-members-${i}`,
        'bench/procs/room-members.ts',
        {
          MEMBERS_ENDPOINT: endpoint,
          MEMBERS_MODE: mode,
          MEMBERS_COUNT: String(Math.min(per, left)),
          MEMBERS_ROOM: room,
          MEMBERS_PREFIX: `${tag}r${i}m`,
        },
        120_000,
      ),
    );
  return Promise.all(jobs);
}

export interface FanoutSetup {
  env: Record<string, string>;
  run: string;
  chatPid: number;
}

export async function fanoutRows(setup: FanoutSetup): Promise<FanoutRow[]> {
  const { warmupMs, durationMs } = timings();
  const rows: FanoutRow[] = [];
  const children: Child[] = [];
  const sockets: Socket[] = [];
  try {
    const broker = await spawnReady('broker', 'bench/procs/broker.ts', {
      ...setup.env,
      NOON_BROKER_PORT: '0',
      NOON_BROKER_WS_PORT: '0',
      NOON_MAX_CONNECTIONS: '20000',
      NOON_MAX_CONNECTIONS_PER_IP: '20000',
      NOON_LOGIN_ATTEMPTS_PER_IP: '1000000',
      NOON_CALLS_PER_SECOND: '100000',
      NOON_LOGIN_TIMEOUT_MS: '600000',
      NOON_IDLE_TIMEOUT_MS: '600000',
    });
    children.push(broker);
    const bare = await spawnReady('fanout', 'bench/procs/fanout.ts', {});
    children.push(bare);
    const tcp = String(broker.ready.tcp);
    const bareTcp = String(bare.ready.tcp);
    const sender = await rawClient(tcp);
    sockets.push(sender.socket);
    await waitFor('the broker routes Sso', async () =>
      sender.sso.login('sender', 'pw-sender').then(
        () => true,
        () => undefined,
      ),
    );
    const bareSender = await tcpSocket(bareTcp);
    sockets.push(bareSender);
    bareSender.write(framed(Buffer.from('sender')));
    let bareSeq = 0;
    const barePush = (seq: number): Buffer =>
      framed(
        events.chatMessage(
          new ChatMessage({
            roomId: 'fan',
            seq,
            userId: 'u-sender',
            username: 'sender',
            text: 'hello, room',
            sentAtMs: Date.now(),
          }),
        ),
      );

    const one = async (variant: 'noon' | 'bare', n: number, tag: string): Promise<FanoutRow> => {
      const room = `fan-${setup.run}-${tag}`;
      const receivers = await spawnReceivers(variant, variant === 'noon' ? tcp : bareTcp, room, n - 1, tag);
      try {
        const counts = countReader(receivers);
        let probe: Probe;
        if (variant === 'noon') {
          const c = await rawClient(tcp);
          await c.sso.login(`${tag}probe`, `pw-${tag}probe`);
          await c.chat.join(room);
          c.socket.removeAllListeners('data');
          probe = new Probe(c.socket);
        } else {
          const s = await tcpSocket(bareTcp);
          s.write(framed(Buffer.from('member')));
          await new Promise((resolve) => s.once('data', resolve)); // "ok": it is a member
          probe = new Probe(s);
          bareSeq = 0;
        }
        sockets.push(probe.socket);
        const say = async (): Promise<number> => {
          if (variant === 'bare') {
            bareSender.write(barePush(++bareSeq));
            return bareSeq;
          }
          const m = await sender.chat.say(room, 'hello, room');
          return Number(m.seq?.toString());
        };
        // The broker's subscription to a new room reaches the owner's PUB asynchronously (ZeroMQ):
        // say until the probe hears one, then start from every member having the same count.
        await waitFor(
          'the probe hears the room',
          async () => {
            const seq = await say();
            return Promise.race([probe.seen(seq).then(() => true), sleep(300).then(() => undefined)]);
          },
          30_000,
        );
        const primed = await waitFor(
          'every member has the first messages',
          async () => {
            const c = await counts();
            return c.min === probe.check.seen && c.max === probe.check.seen ? c.min : undefined;
          },
          10_000,
          50,
        );
        let said = 0;
        let lastSeq = 0;
        const cpuOf = variant === 'noon' ? broker.pid : bare.pid;
        const cpu: Record<string, number> = { fanout: cpuOf, client: process.pid };
        receivers.forEach((r, i) => (cpu[`receivers${i}`] = r.pid));
        if (variant === 'noon') cpu.chat = setup.chatPid;
        const load = await closedLoop({
          inFlight: IN_FLIGHT,
          warmupMs,
          durationMs,
          cpu,
          call: async () => {
            const seq = await say();
            said++;
            lastSeq = Math.max(lastSeq, seq);
            await probe.seen(seq);
          },
        });
        await waitFor('the probe has the last message', async () => (probe.highest >= lastSeq ? true : undefined));
        const final = await waitFor(
          'every member has every message',
          async () => {
            const c = await counts();
            return c.min === probe.check.seen && c.max === probe.check.seen ? c : undefined;
          },
          10_000,
          50,
        ).catch(async () => counts());
        const cores: Record<string, number> = {};
        const seconds = load.seconds;
        for (const [k, usPerCall] of Object.entries(load.cpuPerCall)) {
          const key = k.startsWith('receivers') ? 'receivers' : k;
          cores[key] = (cores[key] ?? 0) + (usPerCall * load.calls) / (seconds * 1e6);
        }
        const row: FanoutRow = {
          members: n,
          variant,
          load,
          deliveriesPerSecond: load.rate * n,
          fanoutUsPerDelivery: (load.cpuPerCall.fanout ?? NaN) / n,
          cores,
          said: probe.check.seen - primed,
          primed,
          counts: final,
          probeBad: probe.check.bad,
        };
        progress(`fan-out ${n} ${variant}: deliveries`, { ...load, rate: row.deliveriesPerSecond });
        process.stderr.write(
          `  ${JSON.stringify({ n, variant, said, counts: final, probeBad: row.probeBad, cores })}\n`,
        );
        probe.socket.destroy();
        return row;
      } finally {
        await Promise.all(receivers.map((r) => stopChild(r)));
      }
    };

    for (let round = 0; round < ROUNDS; round++)
      for (const n of MEMBERS) {
        rows.push(await one('noon', n, `${round}n${n}`));
        rows.push(await one('bare', n, `${round}b${n}`));
      }
  } finally {
    for (const s of sockets) s.destroy();
    await Promise.all(children.reverse().map((c) => stopChild(c)));
  }
  return rows;
}

const fmt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');

export function fanoutTable(rows: FanoutRow[]): string {
  const lines = [
    `Fan-out: one sender, ${IN_FLIGHT} messages in flight (a message is in flight until the last-joined member has it); members are sockets of ${RECEIVERS} receiver processes counting frames by length, plus that probe; ${timings().durationMs / 1000} s per row after ${timings().warmupMs / 1000} s warm-up. "exact" = every member received exactly the messages said (none lost or doubled) and every sampled seq was last + 1.`,
    '',
    '| members | variant | msgs/s | deliveries/s | vs bare | p50 say → last member | fan-out CPU µs/delivery | cores: fan-out / receivers / chat | exact |',
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |',
  ];
  for (const r of rows) {
    const base = rows.find((b) => b.variant === 'bare' && b.members === r.members && rows.indexOf(b) > rows.indexOf(r));
    const vs =
      r.variant === 'bare'
        ? 'baseline'
        : base
          ? `**${((r.deliveriesPerSecond / base.deliveriesPerSecond) * 100).toFixed(0)}%**`
          : '–';
    const want = r.primed + r.said;
    const exact =
      r.counts.min === want && r.counts.max === want && r.counts.bad === 0 && r.probeBad === 0 && r.counts.closed === 0
        ? `yes (${fmt(r.said)} msgs, ${r.counts.checked + 1} seq-checked)`
        : `**no**: per member ${r.counts.min}–${r.counts.max} of ${want}, ${r.counts.bad + r.probeBad} bad seqs, ${r.counts.closed} cut off`;
    const c = r.cores;
    const cores = `${(c.fanout ?? NaN).toFixed(2)} / ${(c.receivers ?? NaN).toFixed(2)} / ${c.chat !== undefined ? c.chat.toFixed(2) : '–'}`;
    const p50 = r.load.p50Us >= 10_000 ? `${(r.load.p50Us / 1000).toFixed(1)} ms` : `${Math.round(r.load.p50Us)} µs`;
    lines.push(
      `| ${fmt(r.members)} | ${r.variant === 'noon' ? 'noon broker' : 'bare TCP fan-out'} | ${fmt(r.load.rate)} | ${fmt(r.deliveriesPerSecond)} | ${vs} | ${p50} | ${r.fanoutUsPerDelivery.toFixed(2)} | ${cores} | ${exact} |`,
    );
  }
  return lines.join('\n');
}
