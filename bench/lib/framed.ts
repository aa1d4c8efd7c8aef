/**
 * Length-prefixed TCP (4-byte big-endian length, then the message: Thrift framed transport) for
 * the bench clients and the raw relay. Writes within one event-loop turn leave in one syscall
 * (cork until the next tick), as edge/tcp.ts does on the broker side.
 */
import { connect, type Socket } from 'node:net';
import { FrameDecoder, frameOf } from '../../edge/framing';

export function corkedWriter(socket: Socket): (message: Buffer) => void {
  let corked = false;
  const uncork = (): void => {
    corked = false;
    socket.uncork();
  };
  return (message) => {
    if (socket.destroyed) return;
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    const [len, body] = frameOf(message);
    socket.write(len as Buffer);
    socket.write(body as Buffer);
  };
}

/** Calls `onFrame` for every complete frame received on `socket`; destroys it on a bad length. */
export function readFrames(socket: Socket, maxFrame: number, onFrame: (frame: Buffer) => void): void {
  const decoder = new FrameDecoder(maxFrame);
  socket.on('data', (data: Buffer) => {
    let frames: Buffer[];
    try {
      frames = decoder.push(data);
    } catch {
      socket.destroy();
      return;
    }
    for (const f of frames) onFrame(f);
  });
}

export async function connectTcp(endpoint: string): Promise<Socket> {
  const [host, port] = endpoint.split(':');
  const socket = connect({ host: host as string, port: Number(port), noDelay: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => undefined);
  return socket;
}
