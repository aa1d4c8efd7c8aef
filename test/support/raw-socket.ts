/** Raw TCP sockets for hostile-input tests: write any bytes, read framed replies, await close. */
import { connect, type Socket } from 'node:net';
import { FrameDecoder } from '../../edge/framing';

export interface RawSocket {
  socket: Socket;
  frames: Buffer[];
  closed: Promise<void>;
  isClosed(): boolean;
  sendFrame(body: Buffer): void;
}

export async function rawSocket(endpoint: string): Promise<RawSocket> {
  const [host, port] = endpoint.split(':');
  const socket = connect(Number(port), host as string);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => undefined);
  const frames: Buffer[] = [];
  const decoder = new FrameDecoder(4 << 20);
  socket.on('data', (d: Buffer) => frames.push(...decoder.push(d)));
  let done = false;
  const closed = new Promise<void>((resolve) =>
    socket.once('close', () => {
      done = true;
      resolve();
    }),
  );
  return {
    socket,
    frames,
    closed,
    isClosed: () => done,
    sendFrame: (body) => {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(body.length);
      socket.write(Buffer.concat([len, body]));
    },
  };
}
