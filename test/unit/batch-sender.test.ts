/**
 * Spec of shared/wire/sender.ts BatchSender over a fake send function: what leaves in which
 * ZeroMQ message, when, to whom, and what happens when the queue is full or a send fails.
 * "A turn" is one pass of the event loop: every I/O (or immediate) callback run in it, each
 * followed by its microtasks. The sender flushes once per turn, from setImmediate.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBatch, FrameError, FRAME_TAG, MAX_BATCH, type Envelope } from '../../shared/wire/frames';
import { BatchSender, type SendFailure } from '../../shared/wire/sender';

/** Lets the turn end: the sender's flush (queued by an enqueue() before this call) runs first. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
/**
 * After a send completes: the sender queues its next round from the completion's microtasks, so
 * after the immediate nextTurn() queued; the second turn lets that round leave.
 */
const afterCompletion = async (): Promise<void> => {
  await nextTurn();
  await nextTurn();
};

const push = (sessionId: string): Envelope => ({
  kind: 'push',
  sessionId,
  directives: [],
  payload: Buffer.from(sessionId),
});
const peer = (name: string): Buffer => Buffer.from(name);

/** One message as the fake socket received it: routing identity (if any) and decoded envelopes. */
interface SentMessage {
  peer: string | undefined;
  sessions: string[];
}

/**
 * A send function that records every message it is given; its sends complete when the test
 * says so (or at once with `autoResolve`), and `rejectNext` makes the next ones fail instead.
 */
function fakeSocket(opts: { autoResolve: boolean; hasPeer: boolean }) {
  const sent: SentMessage[] = [];
  const inFlight: Array<() => void> = [];
  const errorsToReject: Error[] = [];
  const send = (frames: Buffer[]): Promise<void> => {
    const identity = opts.hasPeer ? frames[0] : undefined;
    const message = opts.hasPeer ? frames.slice(1) : frames;
    assert.equal(message.length, 2, 'tag and one batch frame');
    assert.ok(message[0]?.equals(FRAME_TAG), 'the frame tag');
    const envelopes = decodeBatch(message, 1 << 20);
    sent.push({
      peer: identity?.toString(),
      sessions: envelopes.map((e) => (e.kind === 'push' ? e.sessionId : `(${e.kind})`)),
    });
    const error = errorsToReject.shift();
    if (error) return Promise.reject(error);
    if (opts.autoResolve) return Promise.resolve();
    return new Promise((resolve) => inFlight.push(resolve));
  };
  return {
    send,
    sent,
    /** completes the oldest send still in flight */
    completeOldest: (): void => {
      const complete = inFlight.shift();
      assert.ok(complete, 'a send in flight');
      complete();
    },
    rejectNext: (error: Error): void => void errorsToReject.push(error),
    get inFlight(): number {
      return inFlight.length;
    },
  };
}

function sender(opts: { maxQueued?: number; autoResolve?: boolean; hasPeer?: boolean } = {}) {
  const socket = fakeSocket({ autoResolve: opts.autoResolve ?? true, hasPeer: opts.hasPeer ?? true });
  const failures: SendFailure[] = [];
  const batch = new BatchSender(socket.send, {
    maxQueued: opts.maxQueued ?? 100,
    onFailure: (f) => void failures.push(f),
  });
  return { batch, socket, failures };
}

describe('BatchSender batching', () => {
  test('a lone envelope leaves at the end of its turn, not in its microtasks', async () => {
    const { batch, socket } = sender();
    assert.equal(batch.enqueue(push('a'), peer('broker-1')), true);
    assert.deepEqual(socket.sent, [], 'nothing leaves inside enqueue()');
    for (let i = 0; i < 10; i++) await Promise.resolve();
    assert.deepEqual(socket.sent, [], 'still waiting after the microtasks');
    await nextTurn();
    assert.deepEqual(socket.sent, [{ peer: 'broker-1', sessions: ['a'] }], 'left at the end of the turn');
  });

  test('envelopes enqueued by several callbacks of one turn, microtasks drained between them, leave in one message', async () => {
    // What a broker's turn looks like: one read callback per client connection, each followed
    // by its microtasks (awaited continuations), all before the check phase.
    const { batch, socket } = sender();
    const callbacks = ['a', 'b', 'c', 'd'].map(
      (s) =>
        new Promise<void>((resolve) =>
          setImmediate(() => {
            batch.enqueue(push(`${s}1`), peer('broker-1'));
            void Promise.resolve().then(() => {
              batch.enqueue(push(`${s}2`), peer('broker-1'));
              resolve();
            });
          }),
        ),
    );
    await Promise.all(callbacks);
    assert.deepEqual(socket.sent, [], 'every callback of the turn ran, nothing left yet');
    await nextTurn();
    assert.deepEqual(socket.sent, [{ peer: 'broker-1', sessions: ['a1', 'a2', 'b1', 'b2', 'c1', 'c2', 'd1', 'd2'] }]);
  });

  test('envelopes enqueued in one turn leave together, in order, in one message', async () => {
    const { batch, socket } = sender();
    for (const s of ['a', 'b', 'c']) batch.enqueue(push(s), peer('broker-1'));
    await nextTurn();
    assert.deepEqual(socket.sent, [{ peer: 'broker-1', sessions: ['a', 'b', 'c'] }]);
  });

  test('envelopes of separate turns leave in separate messages', async () => {
    const { batch, socket } = sender();
    batch.enqueue(push('a'), peer('broker-1'));
    await nextTurn();
    batch.enqueue(push('b'), peer('broker-1'));
    await nextTurn();
    assert.deepEqual(
      socket.sent.map((m) => m.sessions),
      [['a'], ['b']],
    );
  });

  test('envelopes enqueued while a send is in flight wait for it, then leave together', async () => {
    const { batch, socket } = sender({ autoResolve: false });
    batch.enqueue(push('a'), peer('broker-1'));
    await nextTurn();
    batch.enqueue(push('b'), peer('broker-1'));
    await nextTurn();
    batch.enqueue(push('c'), peer('broker-1'));
    await nextTurn();
    assert.equal(socket.sent.length, 1, 'one send in flight at a time');
    socket.completeOldest();
    await afterCompletion();
    assert.deepEqual(
      socket.sent.map((m) => m.sessions),
      [['a'], ['b', 'c']],
    );
    socket.completeOldest();
    await afterCompletion();
    assert.equal(socket.inFlight, 0);
  });

  test('envelopes enqueued in the turn a send completes join those that waited for it', async () => {
    const { batch, socket } = sender({ autoResolve: false });
    batch.enqueue(push('a'), peer('broker-1'));
    await nextTurn();
    batch.enqueue(push('b'), peer('broker-1'));
    await nextTurn();
    socket.completeOldest();
    batch.enqueue(push('c'), peer('broker-1'));
    await Promise.resolve();
    batch.enqueue(push('d'), peer('broker-1'));
    await afterCompletion();
    assert.deepEqual(
      socket.sent.map((m) => m.sessions),
      [['a'], ['b', 'c', 'd']],
    );
    socket.completeOldest();
  });

  test('per-peer order holds across rounds, whatever the other peers do', async () => {
    const { batch, socket } = sender({ autoResolve: false });
    batch.enqueue(push('a1'), peer('broker-1'));
    batch.enqueue(push('b1'), peer('broker-2'));
    await nextTurn();
    batch.enqueue(push('b2'), peer('broker-2'));
    batch.enqueue(push('a2'), peer('broker-1'));
    batch.enqueue(push('a3'), peer('broker-1'));
    await nextTurn();
    while (socket.inFlight > 0) {
      socket.completeOldest();
      await afterCompletion();
    }
    const of = (to: string): string[] => socket.sent.filter((m) => m.peer === to).flatMap((m) => m.sessions);
    assert.deepEqual(of('broker-1'), ['a1', 'a2', 'a3']);
    assert.deepEqual(of('broker-2'), ['b1', 'b2']);
    assert.equal(socket.sent.length, 4, 'one message per peer per round');
  });

  test('more than MAX_BATCH envelopes for one peer leave in messages of at most MAX_BATCH', async () => {
    const { batch, socket } = sender({ maxQueued: MAX_BATCH * 2 });
    for (let i = 0; i < MAX_BATCH + 1; i++) batch.enqueue(push(`s${i}`), peer('broker-1'));
    await nextTurn();
    assert.deepEqual(
      socket.sent.map((m) => m.sessions.length),
      [MAX_BATCH, 1],
    );
    assert.equal(socket.sent[1]?.sessions[0], `s${MAX_BATCH}`, 'the split keeps the order');
  });
});

describe('BatchSender peers', () => {
  interface PeerCase {
    name: string;
    hasPeer: boolean;
    /** [peer name or undefined, session id], enqueued in one turn */
    enqueued: Array<[string | undefined, string]>;
    sent: SentMessage[];
  }

  const cases: PeerCase[] = [
    {
      name: 'one message per peer, peers in the order they were first enqueued to',
      hasPeer: true,
      enqueued: [
        ['broker-2', 'a'],
        ['broker-1', 'b'],
        ['broker-2', 'c'],
        ['broker-3', 'd'],
        ['broker-1', 'e'],
      ],
      sent: [
        { peer: 'broker-2', sessions: ['a', 'c'] },
        { peer: 'broker-1', sessions: ['b', 'e'] },
        { peer: 'broker-3', sessions: ['d'] },
      ],
    },
    {
      name: 'without a peer (DEALER, PUB) the message has no routing identity frame',
      hasPeer: false,
      enqueued: [
        [undefined, 'a'],
        [undefined, 'b'],
      ],
      sent: [{ peer: undefined, sessions: ['a', 'b'] }],
    },
    {
      name: 'peers are told apart by their bytes, not their Buffer objects',
      hasPeer: true,
      enqueued: [
        ['broker-1', 'a'],
        ['broker-1', 'b'],
      ],
      sent: [{ peer: 'broker-1', sessions: ['a', 'b'] }],
    },
  ];

  for (const c of cases) {
    test(c.name, async () => {
      const { batch, socket } = sender({ hasPeer: c.hasPeer });
      for (const [to, s] of c.enqueued) batch.enqueue(push(s), to === undefined ? undefined : peer(to));
      await nextTurn();
      assert.deepEqual(socket.sent, c.sent);
    });
  }

  test("binary routing identities (ZeroMQ's 5-byte ids) are grouped and passed through intact", async () => {
    const frames: Buffer[][] = [];
    const send = async (f: Buffer[]): Promise<void> => void frames.push(f);
    const batch = new BatchSender(send, { maxQueued: 10, onFailure: () => undefined });
    const ids = [Buffer.from([0x00, 0x80, 0xff, 0x01, 0x02]), Buffer.from([0x00, 0x80, 0xff, 0x01, 0x03])];
    batch.enqueue(push('a'), ids[0]);
    batch.enqueue(push('b'), ids[1]);
    batch.enqueue(push('c'), Buffer.from(ids[0] as Buffer));
    await nextTurn();
    assert.deepEqual(
      frames.map((f) => f[0]),
      ids,
    );
    assert.deepEqual(
      frames.map((f) => decodeBatch(f.slice(1), 1 << 20).length),
      [2, 1],
    );
  });
});

describe('BatchSender backpressure', () => {
  test('at maxQueued waiting envelopes, enqueue() returns false and drops the envelope', async () => {
    const { batch, socket } = sender({ maxQueued: 2 });
    const accepted = [push('a'), push('b'), push('c')].map((e) => batch.enqueue(e, peer('broker-1')));
    assert.deepEqual(accepted, [true, true, false]);
    assert.equal(batch.depth, 2);
    await nextTurn();
    assert.deepEqual(socket.sent, [{ peer: 'broker-1', sessions: ['a', 'b'] }]);
  });

  test("the cap counts every peer's envelopes together", () => {
    const { batch } = sender({ maxQueued: 2 });
    const accepted = ['broker-1', 'broker-2', 'broker-3'].map((to) => batch.enqueue(push('x'), peer(to)));
    assert.deepEqual(accepted, [true, true, false]);
  });

  test('depth counts envelopes waiting, not those in a send in flight', async () => {
    const { batch, socket } = sender({ maxQueued: 2, autoResolve: false });
    batch.enqueue(push('a'), peer('broker-1'));
    batch.enqueue(push('b'), peer('broker-1'));
    await nextTurn();
    assert.equal(socket.inFlight, 1);
    assert.equal(batch.depth, 0, 'a and b are in flight');
    const accepted = [push('c'), push('d'), push('e')].map((e) => batch.enqueue(e, peer('broker-1')));
    assert.deepEqual(accepted, [true, true, false]);
    assert.equal(batch.depth, 2);
    socket.completeOldest();
    await afterCompletion();
    assert.equal(batch.depth, 0);
    assert.deepEqual(
      socket.sent.map((m) => m.sessions),
      [
        ['a', 'b'],
        ['c', 'd'],
      ],
    );
    assert.equal(batch.enqueue(push('f'), peer('broker-1')), true, 'room again once sent');
  });
});

describe('BatchSender failures', () => {
  test('a rejected send reports its peer, envelopes and error to onFailure', async () => {
    const { batch, socket, failures } = sender();
    const lost = [push('a'), push('b')];
    const error = new Error('Host unreachable');
    socket.rejectNext(error);
    for (const e of lost) batch.enqueue(e, peer('broker-1'));
    await nextTurn();
    assert.equal(failures.length, 1);
    assert.equal(failures[0]?.error, error);
    assert.equal(failures[0]?.peer?.toString(), 'broker-1');
    assert.deepEqual(failures[0]?.envelopes, lost);
    assert.equal(failures[0]?.envelopes[0], lost[0], 'the envelopes as enqueued, not copies');
  });

  test('a failed send to one peer does not stop the messages to the other peers', async () => {
    const { batch, socket, failures } = sender();
    socket.rejectNext(new Error('Host unreachable'));
    batch.enqueue(push('a'), peer('broker-1'));
    batch.enqueue(push('b'), peer('broker-2'));
    await nextTurn();
    assert.deepEqual(
      socket.sent.map((m) => m.peer),
      ['broker-1', 'broker-2'],
    );
    assert.deepEqual(
      failures.map((f) => f.peer?.toString()),
      ['broker-1'],
    );
  });

  test('a failure reports only the part of a split batch that failed', async () => {
    const { batch, socket, failures } = sender({ maxQueued: MAX_BATCH * 2 });
    socket.rejectNext(new Error('send timeout'));
    for (let i = 0; i < MAX_BATCH + 2; i++) batch.enqueue(push(`s${i}`), peer('broker-1'));
    await nextTurn();
    assert.deepEqual(
      socket.sent.map((m) => m.sessions.length),
      [MAX_BATCH, 2],
    );
    assert.deepEqual(
      failures.map((f) => f.envelopes.length),
      [MAX_BATCH],
    );
  });

  test('after a failed send the sender keeps working', async () => {
    const { batch, socket, failures } = sender();
    socket.rejectNext(new Error('Host unreachable'));
    batch.enqueue(push('a'), peer('broker-1'));
    await nextTurn();
    assert.equal(batch.depth, 0);
    assert.equal(batch.enqueue(push('b'), peer('broker-1')), true);
    await nextTurn();
    assert.deepEqual(
      socket.sent.map((m) => m.sessions),
      [['a'], ['b']],
    );
    assert.equal(failures.length, 1);
  });

  test('an envelope that cannot be encoded is reported to onFailure, and the rest still leave', async () => {
    const { batch, socket, failures } = sender();
    const unencodable: Envelope = {
      kind: 'push',
      sessionId: 'x'.repeat(0x10000),
      directives: [],
      payload: Buffer.alloc(0),
    };
    batch.enqueue(unencodable, peer('broker-1'));
    batch.enqueue(push('b'), peer('broker-2'));
    await nextTurn();
    assert.deepEqual(socket.sent, [{ peer: 'broker-2', sessions: ['b'] }]);
    assert.equal(failures.length, 1);
    assert.ok(failures[0]?.error instanceof FrameError);
    assert.deepEqual(failures[0]?.envelopes, [unencodable]);
    assert.equal(batch.depth, 0);
  });
});

describe('BatchSender close()', () => {
  test('after close(), enqueue() returns false and nothing is sent', async () => {
    const { batch, socket } = sender();
    batch.close();
    assert.equal(batch.enqueue(push('a'), peer('broker-1')), false);
    assert.equal(batch.depth, 0);
    await nextTurn();
    assert.deepEqual(socket.sent, []);
  });

  test('envelopes enqueued in the turn of close() are dropped, without onFailure', async () => {
    const { batch, socket, failures } = sender();
    batch.enqueue(push('a'), peer('broker-1'));
    batch.close();
    await nextTurn();
    assert.deepEqual(socket.sent, []);
    assert.deepEqual(failures, []);
  });

  test('a send in flight at close() completes; what waited behind it is dropped', async () => {
    const { batch, socket, failures } = sender({ autoResolve: false });
    batch.enqueue(push('a'), peer('broker-1'));
    await nextTurn();
    batch.enqueue(push('b'), peer('broker-1'));
    batch.close();
    socket.completeOldest();
    await nextTurn();
    assert.deepEqual(
      socket.sent.map((m) => m.sessions),
      [['a']],
    );
    assert.deepEqual(failures, []);
  });

  test('close() lets the current round finish: peers taken from the queue are still sent', async () => {
    const { batch, socket } = sender({ autoResolve: false });
    batch.enqueue(push('a'), peer('broker-1'));
    batch.enqueue(push('b'), peer('broker-2'));
    await nextTurn();
    batch.close();
    socket.completeOldest();
    await nextTurn();
    assert.deepEqual(
      socket.sent.map((m) => m.peer),
      ['broker-1', 'broker-2'],
    );
    socket.completeOldest();
  });
});
