/**
 * Floods a running cluster with hostile input while a well-behaved client keeps calling, and
 * counts what happened: mutated client frames over many TCP connections to the broker, garbage
 * and mutated envelopes straight at a service ROUTER, mutated requests at Yellow, slowloris
 * connections and a connection flood. Shared by test/integration/fuzz.test.ts (a short run) and
 * bench/fuzz.ts (a million frames).
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import * as thrift from 'thrift';
import * as zmq from 'zeromq';
import { join } from 'node:path';
import type { GoodClientStats } from './fuzz-good-client';
import { TestProcess } from './process';
import { Sso } from '../../shared/protocol';
import { buildMessage } from '../../shared/thrift/messages';
import { encodeBatch, type RequestEnvelope } from '../../shared/wire/frames';
import { curveClientOptions, yellowKeyOf, type CurveKeys } from '../../shared/curve';
import { framed, keepsConnection, mutate, rng, seedCalls } from './fuzz';
import { peekHeader } from '../../shared/thrift/header';
import { rawClient } from './raw-client';

export interface FuzzTargets {
  brokerTcp: string;
  /** the process that holds the broker (its RSS is reported; it must survive) */
  pid: number;
  /** a service's ROUTER for brokers, and its CURVE key when the internal plane has keys */
  serviceRouter?: { endpoint: string; curveKey?: string };
  yellowRouter?: string;
  /**
   * A broker's keys: the ZeroMQ flood connects with them, so its frames pass CURVE and reach the
   * decoders behind it (without keys they would stop at the handshake).
   */
  curve?: CurveKeys;
}

export interface FuzzOptions {
  frames: number;
  connections: number;
  /** frames each to the service ROUTER and to Yellow */
  zmqFrames: number;
  slowloris: number;
  connectionFlood: number;
  seed: number;
  /** the good client's account (registered before) */
  username: string;
  password: string;
  /**
   * The client-frame flood's pace over all its connections (default: as fast as the broker reads).
   * Unpaced, the flooder and the broker take both cores of a small machine, and the good client's
   * latency measures that contention rather than how the cluster treats hostile input.
   */
  framesPerSecond?: number;
  onProgress?(sent: number): void;
  /** called between the broker flood and the ZeroMQ one (to read what the services counted from each) */
  afterFrameFlood?(): Promise<void>;
}

export interface FuzzReport {
  framesSent: number;
  /** logged-in connections the flood opened */
  connectionsOpened: number;
  /** frames that kept their connection, by Thrift service: the broker routed them to its decoder */
  routed: Record<string, number>;
  /** frames the broker closes a connection on (each on a connection of its own) */
  closingFrames: number;
  /** seconds the client-frame flood took */
  frameFloodSeconds: number;
  zmqFramesSent: number;
  slowlorisClosedByBroker: number;
  floodAccepted: number;
  floodRefusedOrClosed: number;
  brokerAlive: boolean;
  rssMb: { before: number; afterFrames: number; after: number };
  /** the broker process's CPU time during the client-frame flood (s): its cost per frame, with the good client's calls */
  brokerCpuSeconds: number;
  baseline: GoodClientStats;
  /** the good client during the client-frame flood only */
  during: GoodClientStats;
  /** the good client during the rest (ZeroMQ flood, slowloris, connection flood) */
  rest: GoodClientStats;
}

const BASELINE_CALLS = 2000;
/**
 * How long the good client may take for its warm-up and baseline (2,300 calls), and to report a
 * window: on a 2-core machine at load average ~35 its calls took 30–50 ms each at p99 and 60 s
 * was not enough (a deadline, not a wait: it is over as soon as the line arrives).
 */
const GOOD_CLIENT_DEADLINE_MS = 180_000;
/** A valid compact Sso:ping call (public: any connection may make it). */
const PING = buildMessage('compact', (out) => {
  out.writeMessageBegin('Sso:ping', thrift.Thrift.MessageType.CALL, 1);
  new Sso.PingArgs().write(out);
  out.writeMessageEnd();
});
/** How long a slowloris connection may live before the run counts it as not closed by the broker. */
const SLOWLORIS_DEADLINE_MS = 15_000;

export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

/** CPU time (user + system) a process has used so far, in seconds (Linux: /proc/<pid>/stat, 100 ticks/s). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // the fields after the command name, which is in parentheses and may hold spaces
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function hostPort(endpoint: string): [string, number] {
  const i = endpoint.lastIndexOf(':');
  return [endpoint.slice(0, i), Number(endpoint.slice(i + 1))];
}

/**
 * A logged-in connection for a flood worker: its account is registered on the worker's first
 * connection, later ones resume its session (cheap: no password hash), logging in again when the
 * mutations made it log out. Then the broker routes the mutations to the services' decoders
 * instead of refusing them UNAUTHENTICATED.
 */
async function loggedIn(
  endpoint: string,
  account: { name: string; token?: string },
  password: string,
): Promise<Socket> {
  const c = await rawClient(endpoint, 'compact');
  const session = await (account.token !== undefined
    ? c.sso.resume(account.token).catch(() => c.sso.login(account.name, password))
    : c.sso.register(account.name, password).catch(() => c.sso.login(account.name, password)));
  account.token = session.token;
  // From here the worker writes raw frames and reads nothing back (replies are dropped).
  c.socket.removeAllListeners('data');
  c.socket.on('error', () => undefined);
  c.socket.resume();
  return c.socket;
}

/** Frames the broker closes the connection on, each sent on a connection of its own (no login). */
class Throwaways {
  private readonly queue: Buffer[] = [];
  private readonly waiting: Array<() => void> = [];
  private ended = false;
  private readonly workers: Promise<void>[];

  constructor(
    private readonly endpoint: string,
    concurrency: number,
  ) {
    this.workers = Array.from({ length: concurrency }, () => this.work());
  }

  /** Queues a frame; waits while too many are queued (the flood runs no faster than they go out). */
  async push(frame: Buffer): Promise<void> {
    this.queue.push(frame);
    this.wake();
    while (this.queue.length > 200) await new Promise<void>((r) => this.waiting.push(r));
  }

  async end(): Promise<void> {
    this.ended = true;
    this.wake();
    await Promise.all(this.workers);
  }

  private wake(): void {
    for (const w of this.waiting.splice(0)) w();
  }

  private async work(): Promise<void> {
    const [host, port] = hostPort(this.endpoint);
    for (;;) {
      const frame = this.queue.shift();
      if (frame === undefined) {
        if (this.ended) return;
        await new Promise<void>((r) => this.waiting.push(r));
        continue;
      }
      this.wake();
      // Written, then half-closed: the broker closes it (bad frame, protocol error, unknown
      // method) or, for a frame that declares more bytes than it has, answers the FIN.
      await new Promise<void>((resolve) => {
        const s = connect(port, host, () => s.end(frame));
        s.on('error', () => undefined);
        s.resume();
        s.once('close', () => resolve());
      });
    }
  }
}

export interface BrokerFloodCounts {
  sent: number;
  /** logged-in connections opened (one per worker, again after the broker closed one) */
  opened: number;
  /** frames that kept their connection (honest length, a CALL of a seed method), by Thrift service */
  routed: Record<string, number>;
  /** frames the broker closes a connection on, each sent on a connection of its own */
  closing: number;
}

/**
 * Mutated frames over `connections` logged-in sockets. A frame that keeps its connection (see
 * keepsConnection) goes out on a logged-in socket, so it reaches the service's decoder; one that
 * gets a connection closed goes on a throwaway connection instead, so it does not take the frames
 * written after it down with it (a bad frame drops the rest of the read it came in). A logged-in
 * socket the broker closes anyway is replaced.
 */
async function floodBroker(endpoint: string, opts: FuzzOptions): Promise<BrokerFloodCounts> {
  const seeds = seedCalls();
  const random = rng(opts.seed);
  const throwaways = new Throwaways(endpoint, 8);
  let sent = 0;
  let opened = 0;
  const routed: Record<string, number> = {};
  let closing = 0;
  const started = performance.now();
  const worker = async (w: number): Promise<void> => {
    const account: { name: string; token?: string } = { name: `${opts.username}-flood-${w}` };
    let socket: Socket | undefined;
    while (sent < opts.frames) {
      const chunk: Buffer[] = [];
      // Counted before any await: the workers share the one total.
      for (let i = 0; i < 50 && sent < opts.frames; i++) {
        sent++;
        const frame = framed(mutate(seeds, random).body, random);
        if (keepsConnection(frame)) {
          chunk.push(frame);
          const service = peekHeader(frame.subarray(4), 128).name.split(':')[0] as string;
          routed[service] = (routed[service] ?? 0) + 1;
        } else {
          closing++;
          await throwaways.push(frame);
        }
      }
      opts.onProgress?.(sent);
      if (opts.framesPerSecond !== undefined) {
        const due = started + (sent / opts.framesPerSecond) * 1000 - performance.now();
        if (due > 0) await new Promise<void>((r) => setTimeout(r, due));
      }
      // A socket the broker closed (also while a throwaway frame was queued) is replaced first.
      if (!socket || socket.destroyed) {
        socket?.destroy();
        socket = await loggedIn(endpoint, account, opts.password);
        opened++;
      }
      const s = socket;
      if (!s.write(Buffer.concat(chunk)) && !s.destroyed)
        await new Promise<void>((r) => {
          s.once('drain', r);
          s.once('close', r);
        });
      else await new Promise<void>((r) => setImmediate(r));
    }
    socket?.destroy();
  };
  await Promise.all(Array.from({ length: opts.connections }, (_, w) => worker(w)));
  await throwaways.end();
  return { sent, opened, routed, closing };
}

/** Garbage, then mutated valid envelopes, at a service ROUTER; mutated JSON requests at Yellow. */
async function floodZmq(opts: FuzzOptions, targets: FuzzTargets): Promise<number> {
  const random = rng(opts.seed + 1);
  const pick = (n: number): number => Math.floor(random() * n);
  let sent = 0;
  const valid: RequestEnvelope = {
    kind: 'request',
    requestId: 1,
    timeoutMs: 1000,
    sessionId: 's',
    userId: 'u',
    username: 'n',
    method: 'Player:getProfile',
    via: 'fuzz',
    traceId: 't',
    payload: seedCalls()[3] as Buffer,
  };
  const yellowReq = Buffer.from(JSON.stringify({ rid: 1, op: 'query', filter: {} }));
  const flip = (b: Buffer): Buffer => {
    const c = Buffer.from(b);
    for (let n = 1 + pick(4); n > 0 && c.length > 0; n--) c[pick(c.length)] = pick(256);
    return random() < 0.2 ? c.subarray(0, pick(c.length)) : c;
  };
  for (const [endpoint, serverKey, frames] of [
    [
      targets.serviceRouter?.endpoint,
      targets.serviceRouter?.curveKey,
      (): Buffer[] =>
        random() < 0.3
          ? [Buffer.from(Array.from({ length: pick(64) }, () => pick(256)))]
          : encodeBatch([valid]).map(flip),
    ],
    [
      targets.yellowRouter,
      targets.curve && yellowKeyOf(targets.curve),
      (): Buffer[] => [Buffer.from(random() < 0.5 ? 'noon-yellow/1' : 'x'), flip(yellowReq)],
    ],
  ] as const) {
    if (!endpoint) continue;
    const dealer = new zmq.Dealer({
      linger: 0,
      sendHighWaterMark: 10_000,
      sendTimeout: 1000,
      ...curveClientOptions(targets.curve, serverKey),
    });
    dealer.connect(endpoint);
    for (let i = 0; i < opts.zmqFrames; i++) {
      await dealer.send(frames()).catch(() => undefined);
      sent++;
    }
    dealer.close();
  }
  return sent;
}

/** Connections that send one byte and then nothing: the broker's handshake deadline must close them. */
async function slowloris(endpoint: string, n: number, deadlineMs: number): Promise<number> {
  const [host, port] = hostPort(endpoint);
  const closed = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<boolean>((resolve) => {
          const s = connect(port, host, () => s.write(Buffer.from([0x00])));
          s.on('error', () => undefined);
          const deadline = setTimeout(() => {
            s.destroy();
            resolve(false);
          }, deadlineMs);
          s.once('close', () => {
            clearTimeout(deadline);
            resolve(true);
          });
        }),
    ),
  );
  return closed.filter(Boolean).length;
}

/**
 * Opens `n` connections at once: how many the broker kept. Each one sends an Sso:ping: an answer
 * means kept, a close means refused (the broker closes what it does not admit), so the count
 * waits for an event per connection instead of a guess about timing.
 */
async function connectionFlood(endpoint: string, n: number): Promise<{ accepted: number; refused: number }> {
  const [host, port] = hostPort(endpoint);
  const ping = framed(PING, () => 0);
  const verdicts = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<{ kept: boolean; socket: Socket }>((resolve) => {
          const s = connect(port, host, () => s.write(ping));
          s.on('error', () => undefined);
          s.once('data', () => resolve({ kept: true, socket: s }));
          s.once('close', () => resolve({ kept: false, socket: s }));
        }),
    ),
  );
  for (const v of verdicts) v.socket.destroy();
  const accepted = verdicts.filter((v) => v.kept).length;
  return { accepted, refused: n - accepted };
}

export async function runFuzz(targets: FuzzTargets, opts: FuzzOptions): Promise<FuzzReport> {
  const before = rssMb(targets.pid);
  // The good client in its own process: its baseline alone first, then calls during the flood.
  const good = new TestProcess(
    ['--import', 'tsx', join('test', 'support', 'fuzz-good-client.ts')],
    {
      ...process.env,
      FUZZ_BROKER: targets.brokerTcp,
      FUZZ_USER: opts.username,
      FUZZ_PASS: opts.password,
      FUZZ_BASELINE: String(BASELINE_CALLS),
    },
    'fuzz good client',
  );
  try {
    return await floodWhileCalling(targets, opts, good, before);
  } finally {
    // A run that failed half-way leaves no good client calling (it would keep its runner alive).
    if (good.proc.exitCode === null && good.proc.signalCode === null) good.proc.kill('SIGKILL');
  }
}

async function floodWhileCalling(
  targets: FuzzTargets,
  opts: FuzzOptions,
  good: TestProcess,
  before: number,
): Promise<FuzzReport> {
  const baseline = (
    await good.waitFor('the baseline', () => good.jsonLine({ baseline: undefined }), GOOD_CLIENT_DEADLINE_MS)
  ).baseline as GoodClientStats;
  const started = Date.now();
  const cpuBefore = cpuSeconds(targets.pid);
  const flood = await floodBroker(targets.brokerTcp, opts);
  const frameFloodSeconds = (Date.now() - started) / 1000;
  const brokerCpuSeconds = cpuSeconds(targets.pid) - cpuBefore;
  // The good client's flood window ends with the client frames; the rest is counted apart.
  good.proc.kill('SIGUSR2');
  const during = (
    await good.waitFor(
      'the calls during the flood',
      () => good.jsonLine({ during: undefined }),
      GOOD_CLIENT_DEADLINE_MS,
    )
  ).during as GoodClientStats;
  const afterFrames = rssMb(targets.pid);
  await opts.afterFrameFlood?.();
  const zmqFramesSent = await floodZmq(opts, targets);
  const slow = await slowloris(targets.brokerTcp, opts.slowloris, SLOWLORIS_DEADLINE_MS);
  const cf = await connectionFlood(targets.brokerTcp, opts.connectionFlood);
  good.proc.kill('SIGTERM');
  const rest = (
    await good.waitFor(
      'the calls after the frame flood',
      () => good.jsonLine({ rest: undefined }),
      GOOD_CLIENT_DEADLINE_MS,
    )
  ).rest as GoodClientStats;
  await good.exited;
  const report: FuzzReport = {
    framesSent: flood.sent,
    connectionsOpened: flood.opened,
    routed: flood.routed,
    closingFrames: flood.closing,
    frameFloodSeconds,
    zmqFramesSent,
    slowlorisClosedByBroker: slow,
    floodAccepted: cf.accepted,
    floodRefusedOrClosed: cf.refused,
    brokerAlive: alive(targets.pid),
    rssMb: { before, afterFrames, after: rssMb(targets.pid) },
    brokerCpuSeconds: Math.round(brokerCpuSeconds * 100) / 100,
    baseline,
    during,
    rest,
  };
  return report;
}
