/**
 * Spec of edge/admission.ts: the caps on connections (overall and per client address) and the
 * three deadlines one sweep enforces (first message, login, idle). Connections are real
 * ClientConns over a fake Wire, driven through their own methods; Date is mocked so their
 * openedAt is a known instant.
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Admission, type AdmissionLimits } from '../../edge/admission';
import { ClientConn, type ConnLimits, type Wire } from '../../edge/client-conn';

const OPENED_AT = 1_700_000_000_000;
const CONN_LIMITS: ConnLimits = {
  outboundQueue: 16,
  outboundBytes: 1 << 20,
  outboundGraceMs: 1000,
  callsPerSecond: 100,
};
const LIMITS: AdmissionLimits = {
  maxConnections: 100,
  maxConnectionsPerIp: 100,
  handshakeTimeoutMs: 1000,
  loginTimeoutMs: 5000,
  idleTimeoutMs: 3000,
};

/** A transport that writes nowhere and remembers why it was closed. */
function fakeWire(remote: string): Wire & { closedWith: string[] } {
  const closedWith: string[] = [];
  return {
    transport: 'tcp',
    remote,
    closedWith,
    write: (_message, done) => done(),
    bufferedBytes: () => 0,
    close: (reason) => void closedWith.push(reason),
  };
}

interface OpenConn {
  conn: ClientConn;
  wire: ReturnType<typeof fakeWire>;
}

/** A connection opened now that leaves the admission when it closes, as the broker's do. */
function openConn(admission: Admission, remote: string): OpenConn {
  const wire = fakeWire(remote);
  return { conn: new ClientConn(wire, CONN_LIMITS, (c) => admission.remove(c)), wire };
}

function mockClock(t: TestContext): void {
  t.mock.timers.enable({ apis: ['Date'], now: OPENED_AT });
}

describe('Admission caps', () => {
  /**
   * admit: a new connection from the address asks to open (true = allowed, and counted);
   * add/remove: the named ClientConn joins or leaves (remove of a never-added one is a no-op);
   * release: undoes an admit that never became a connection.
   */
  type Step =
    | { admit: string; allowed: boolean }
    | { add: string; from: string }
    | { remove: string; from: string }
    | { release: string };

  interface CapCase {
    name: string;
    limits: Pick<AdmissionLimits, 'maxConnections' | 'maxConnectionsPerIp'>;
    steps: Step[];
    /** onRefused reasons, in order */
    refused: string[];
  }

  const cases: CapCase[] = [
    {
      name: 'each address may hold maxConnectionsPerIp connections; other addresses are unaffected',
      limits: { maxConnections: 100, maxConnectionsPerIp: 2 },
      steps: [
        { admit: '10.0.0.1', allowed: true },
        { admit: '10.0.0.1', allowed: true },
        { admit: '10.0.0.1', allowed: false },
        { admit: '10.0.0.2', allowed: true },
      ],
      refused: ['max_connections_per_ip'],
    },
    {
      name: 'release() gives an address its slot back',
      limits: { maxConnections: 100, maxConnectionsPerIp: 1 },
      steps: [
        { admit: '10.0.0.1', allowed: true },
        { admit: '10.0.0.1', allowed: false },
        { release: '10.0.0.1' },
        { admit: '10.0.0.1', allowed: true },
      ],
      refused: ['max_connections_per_ip'],
    },
    {
      name: 'releasing an address that holds nothing does not give it extra slots',
      limits: { maxConnections: 100, maxConnectionsPerIp: 1 },
      steps: [
        { release: '10.0.0.1' },
        { release: '10.0.0.1' },
        { admit: '10.0.0.1', allowed: true },
        { admit: '10.0.0.1', allowed: false },
      ],
      refused: ['max_connections_per_ip'],
    },
    {
      name: 'maxConnections caps the connections added, whatever their addresses',
      limits: { maxConnections: 2, maxConnectionsPerIp: 10 },
      steps: [
        { admit: '10.0.0.1', allowed: true },
        { add: 'a', from: '10.0.0.1' },
        { admit: '10.0.0.2', allowed: true },
        { add: 'b', from: '10.0.0.2' },
        { admit: '10.0.0.3', allowed: false },
        { remove: 'a', from: '10.0.0.1' },
        { admit: '10.0.0.3', allowed: true },
      ],
      refused: ['max_connections'],
    },
    {
      name: 'the overall cap is checked before the per-address cap',
      limits: { maxConnections: 1, maxConnectionsPerIp: 1 },
      steps: [
        { admit: '10.0.0.1', allowed: true },
        { add: 'a', from: '10.0.0.1' },
        { admit: '10.0.0.1', allowed: false },
      ],
      refused: ['max_connections'],
    },
    {
      // Current behaviour: admit() counts per address only; the broker adds in the same turn.
      name: 'admitted connections not yet added do not count toward maxConnections',
      limits: { maxConnections: 1, maxConnectionsPerIp: 10 },
      steps: [
        { admit: '10.0.0.1', allowed: true },
        { admit: '10.0.0.2', allowed: true },
        { admit: '10.0.0.3', allowed: true },
      ],
      refused: [],
    },
    {
      name: "removing a connection frees its address's slot",
      limits: { maxConnections: 100, maxConnectionsPerIp: 1 },
      steps: [
        { admit: '10.0.0.1', allowed: true },
        { add: 'a', from: '10.0.0.1' },
        { admit: '10.0.0.1', allowed: false },
        { remove: 'a', from: '10.0.0.1' },
        { admit: '10.0.0.1', allowed: true },
      ],
      refused: ['max_connections_per_ip'],
    },
    {
      name: 'removing the same connection twice frees one slot',
      limits: { maxConnections: 100, maxConnectionsPerIp: 2 },
      steps: [
        { admit: '10.0.0.1', allowed: true },
        { add: 'a', from: '10.0.0.1' },
        { admit: '10.0.0.1', allowed: true },
        { add: 'b', from: '10.0.0.1' },
        { remove: 'a', from: '10.0.0.1' },
        { remove: 'a', from: '10.0.0.1' },
        { admit: '10.0.0.1', allowed: true },
        { admit: '10.0.0.1', allowed: false },
      ],
      refused: ['max_connections_per_ip'],
    },
    {
      name: 'an IPv4-mapped IPv6 address counts as its IPv4 address (dual-stack listeners)',
      limits: { maxConnections: 100, maxConnectionsPerIp: 2 },
      steps: [
        { admit: '127.0.0.2', allowed: true },
        { admit: '::ffff:127.0.0.2', allowed: true },
        { admit: '::FFFF:7f00:2', allowed: false },
        { admit: '0:0:0:0:0:ffff:127.0.0.2', allowed: false },
        { admit: '::ffff:127.0.0.3', allowed: true },
      ],
      refused: ['max_connections_per_ip', 'max_connections_per_ip'],
    },
    {
      name: 'a connection admitted in one form of its address frees the slot of the other forms',
      limits: { maxConnections: 100, maxConnectionsPerIp: 1 },
      steps: [
        { admit: '::ffff:10.0.0.1', allowed: true },
        { add: 'a', from: '::ffff:10.0.0.1' },
        { admit: '10.0.0.1', allowed: false },
        { remove: 'a', from: '::ffff:10.0.0.1' },
        { admit: '10.0.0.1', allowed: true },
        { release: '::ffff:10.0.0.1' },
        { admit: '::ffff:10.0.0.1', allowed: true },
      ],
      refused: ['max_connections_per_ip'],
    },
    {
      name: 'IPv6 addresses count in their compressed lower-case form, one by one (no /64 aggregate)',
      limits: { maxConnections: 100, maxConnectionsPerIp: 1 },
      steps: [
        { admit: '2001:DB8:0:0:0:0:0:1', allowed: true },
        { admit: '2001:db8::1', allowed: false },
        { admit: '2001:db8::2', allowed: true },
      ],
      refused: ['max_connections_per_ip'],
    },
    {
      name: 'removing a connection that was never added frees nothing',
      limits: { maxConnections: 100, maxConnectionsPerIp: 1 },
      steps: [
        { admit: '10.0.0.1', allowed: true },
        { remove: 'stranger', from: '10.0.0.1' },
        { admit: '10.0.0.1', allowed: false },
      ],
      refused: ['max_connections_per_ip'],
    },
  ];

  for (const c of cases) {
    test(c.name, (t) => {
      mockClock(t);
      const refused: string[] = [];
      const admission = new Admission({ ...LIMITS, ...c.limits }, (reason) => refused.push(reason));
      const conns = new Map<string, ClientConn>();
      const connNamed = (name: string, from: string): ClientConn => {
        const existing = conns.get(name);
        if (existing) return existing;
        const { conn } = openConn(admission, from);
        conns.set(name, conn);
        return conn;
      };
      c.steps.forEach((step, i) => {
        const where = `step ${i + 1}: ${JSON.stringify(step)}`;
        if ('admit' in step) assert.equal(admission.admit(step.admit), step.allowed, where);
        else if ('add' in step) admission.add(connNamed(step.add, step.from));
        else if ('remove' in step) admission.remove(connNamed(step.remove, step.from));
        else admission.release(step.release);
      });
      assert.deepEqual(refused, c.refused);
    });
  }

  test('conns holds exactly the connections added and not removed', (t) => {
    mockClock(t);
    const admission = new Admission(LIMITS, () => undefined);
    const [a, b] = [openConn(admission, '10.0.0.1').conn, openConn(admission, '10.0.0.2').conn];
    admission.add(a);
    admission.add(b);
    admission.remove(a);
    assert.deepEqual([...admission.conns], [b]);
  });
});

describe('Admission.sweep() deadlines', () => {
  interface SweepCase {
    name: string;
    limits?: Partial<AdmissionLimits>;
    /** messages the connection received: all at opening but the last, which is at lastMessageAt */
    messages: number;
    /** ms after opening of the last message (without messages, activity is the opening) */
    lastMessageAt?: number;
    loggedIn: boolean;
    /** ms after opening of the sweep */
    sweepAt: number;
    /** the reason it is closed with, or null if it stays open */
    closedWith: string | null;
  }

  const cases: SweepCase[] = [
    {
      name: 'no message yet, at the handshake deadline: stays (every deadline is exclusive)',
      messages: 0,
      loggedIn: false,
      sweepAt: 1000,
      closedWith: null,
    },
    {
      name: 'no message 1 ms past the handshake deadline: closed',
      messages: 0,
      loggedIn: false,
      sweepAt: 1001,
      closedWith: 'no message within 1000 ms of connecting',
    },
    {
      name: 'one message and not logged in, at the login deadline: stays',
      messages: 1,
      lastMessageAt: 4000,
      loggedIn: false,
      sweepAt: 5000,
      closedWith: null,
    },
    {
      name: 'not logged in 1 ms past the login deadline, though active: closed',
      messages: 3,
      lastMessageAt: 5000,
      loggedIn: false,
      sweepAt: 5001,
      closedWith: 'not logged in within 5000 ms',
    },
    {
      name: 'logged in long ago and active exactly the idle timeout ago: stays',
      messages: 9,
      lastMessageAt: 57_000,
      loggedIn: true,
      sweepAt: 60_000,
      closedWith: null,
    },
    {
      name: 'logged in but idle 1 ms past the idle timeout: closed',
      messages: 9,
      lastMessageAt: 56_999,
      loggedIn: true,
      sweepAt: 60_000,
      closedWith: 'idle for 3000 ms',
    },
    {
      name: 'the idle timeout applies before login too',
      messages: 1,
      lastMessageAt: 500,
      loggedIn: false,
      sweepAt: 3501,
      closedWith: 'idle for 3000 ms',
    },
    {
      name: 'logging in does not lift the handshake deadline: it counts messages',
      messages: 0,
      loggedIn: true,
      sweepAt: 1001,
      closedWith: 'no message within 1000 ms of connecting',
    },
    {
      name: 'past every deadline, the handshake reason is given',
      messages: 0,
      loggedIn: false,
      sweepAt: 60_000,
      closedWith: 'no message within 1000 ms of connecting',
    },
    {
      name: 'past the login and idle deadlines, the login reason is given',
      messages: 1,
      lastMessageAt: 0,
      loggedIn: false,
      sweepAt: 60_000,
      closedWith: 'not logged in within 5000 ms',
    },
    {
      name: 'a login deadline shorter than the handshake deadline closes a silent connection first',
      limits: { loginTimeoutMs: 500 },
      messages: 0,
      loggedIn: false,
      sweepAt: 501,
      closedWith: 'not logged in within 500 ms',
    },
    {
      name: 'a sweep with a clock behind the opening closes nothing',
      messages: 0,
      loggedIn: false,
      sweepAt: -60_000,
      closedWith: null,
    },
  ];

  for (const c of cases) {
    test(c.name, (t) => {
      mockClock(t);
      const admission = new Admission({ ...LIMITS, ...c.limits }, () => undefined);
      assert.ok(admission.admit('10.0.0.1'));
      const { conn, wire } = openConn(admission, '10.0.0.1');
      admission.add(conn);
      assert.equal(conn.openedAt, OPENED_AT, 'the mocked clock');
      for (let i = 1; i < c.messages; i++) conn.received(OPENED_AT);
      if (c.messages > 0) conn.received(OPENED_AT + (c.lastMessageAt ?? 0));
      if (c.loggedIn) conn.setAuthenticated(true);

      const closed = admission.sweep(OPENED_AT + c.sweepAt);

      assert.equal(closed, c.closedWith === null ? 0 : 1, 'sweep() counts what it closed');
      assert.equal(conn.closed, c.closedWith !== null, 'closed');
      assert.deepEqual(wire.closedWith, c.closedWith === null ? [] : [c.closedWith], 'wire closed with');
      assert.equal(admission.conns.size, c.closedWith === null ? 1 : 0, 'a closed connection left');
    });
  }

  test('one sweep closes every connection past a deadline and returns how many', (t) => {
    mockClock(t);
    const admission = new Admission(LIMITS, () => undefined);
    const [silent, anonymous, idle, busy] = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'].map((remote) => {
      assert.ok(admission.admit(remote));
      const { conn } = openConn(admission, remote);
      admission.add(conn);
      return conn;
    }) as [ClientConn, ClientConn, ClientConn, ClientConn];
    anonymous.received(OPENED_AT + 5500);
    idle.received(OPENED_AT + 1000);
    busy.received(OPENED_AT + 5500);
    idle.setAuthenticated(true);
    busy.setAuthenticated(true);

    assert.equal(admission.sweep(OPENED_AT + 6000), 3);
    assert.deepEqual([...admission.conns], [busy]);
    assert.deepEqual(
      [silent, anonymous, idle].map((c) => c.closeReason),
      ['no message within 1000 ms of connecting', 'not logged in within 5000 ms', 'idle for 3000 ms'],
    );
    assert.equal(admission.sweep(OPENED_AT + 6000), 0, 'a second sweep at the same time finds nothing');
  });

  test('closing through a sweep frees the address for a new connection', (t) => {
    mockClock(t);
    const admission = new Admission({ ...LIMITS, maxConnectionsPerIp: 1 }, () => undefined);
    assert.ok(admission.admit('10.0.0.1'));
    admission.add(openConn(admission, '10.0.0.1').conn);
    assert.equal(admission.admit('10.0.0.1'), false);
    assert.equal(admission.sweep(OPENED_AT + 1001), 1);
    assert.equal(admission.admit('10.0.0.1'), true);
  });
});
