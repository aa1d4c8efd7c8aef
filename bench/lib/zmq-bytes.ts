/**
 * Counts the bytes a process's ZeroMQ sockets send and receive, by wrapping the socket classes'
 * `send` and `receive`. Used by the discovery bench so the same count works on the current code
 * and on a base commit's (both load the one zeromq module), and printed as a JSON line every
 * 250 ms for the parent to read.
 */
import * as zmq from 'zeromq';

export const zmqBytes = { sent: 0, received: 0 };

type Frames = Array<string | Buffer> | string | Buffer;

function size(msg: Frames): number {
  const parts = Array.isArray(msg) ? msg : [msg];
  let n = 0;
  for (const p of parts) n += typeof p === 'string' ? Buffer.byteLength(p) : p.length;
  return n;
}

/** The prototype that defines `name` (zeromq.js puts send/receive, read-only, on its Socket base). */
function owner(proto: object, name: string): object {
  for (let p: object | null = proto; p; p = Object.getPrototypeOf(p) as object | null)
    if (Object.getOwnPropertyDescriptor(p, name)) return p;
  throw new Error(`no ${name} on the zeromq socket prototype`);
}

function wrap(proto: object): void {
  const sendOwner = owner(proto, 'send');
  const send = (sendOwner as { send: (m: Frames) => Promise<void> }).send;
  Object.defineProperty(sendOwner, 'send', {
    value: function (this: unknown, m: Frames): Promise<void> {
      zmqBytes.sent += size(m);
      return send.call(this, m);
    },
  });
  const receiveOwner = owner(proto, 'receive');
  const receive = (receiveOwner as { receive: () => Promise<Buffer[]> }).receive;
  Object.defineProperty(receiveOwner, 'receive', {
    value: async function (this: unknown): Promise<Buffer[]> {
      const frames = await receive.call(this);
      zmqBytes.received += size(frames);
      return frames;
    },
  });
}

/** Starts counting (call before any socket is made) and prints `{"bytes":…}` lines. */
export function countZmqBytes(): void {
  wrap(zmq.Router.prototype);
  setInterval(() => process.stdout.write(`${JSON.stringify({ bytes: zmqBytes })}\n`), 250).unref();
}
