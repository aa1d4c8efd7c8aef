// Raw baseline for the broker: a TCP relay. Each length-prefixed frame from a client leaves on a
// DEALER to the echo ROUTER (BENCH_ECHO) as a [connection id, bytes] frame pair, sends coalesced
// per BENCH_SEND_MODE; what comes back is written to that connection. No Thrift, no routing.
// Ready line: {"ready":"relay","tcp":"127.0.0.1:port"}.
import { createServer, type AddressInfo } from 'node:net';
import * as zmq from 'zeromq';
import { corkedWriter, readFrames } from '../lib/framed';
import { RawSender, sendModeOf } from '../lib/zmq-senders';

async function main(): Promise<void> {
  const echo = process.env.BENCH_ECHO;
  if (!echo) throw new Error('BENCH_ECHO (the echo ROUTER endpoint) is required');
  const mode = sendModeOf(process.env.BENCH_SEND_MODE);
  const dealer = new zmq.Dealer({
    linger: 0,
    sendHighWaterMark: 10_000,
    receiveHighWaterMark: 10_000,
    sendTimeout: 1000,
  });
  dealer.connect(echo);
  const sender = new RawSender(dealer, mode);
  const conns = new Map<number, (message: Buffer) => void>();
  let nextId = 1;
  const server = createServer({ noDelay: true }, (socket) => {
    socket.on('error', () => socket.destroy());
    const id = nextId++;
    const idFrame = Buffer.alloc(4);
    idFrame.writeUInt32BE(id, 0);
    conns.set(id, corkedWriter(socket));
    socket.on('close', () => conns.delete(id));
    readFrames(socket, 16 * 1024, (frame) => sender.send([idFrame, frame]));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.stdout.write(
    `${JSON.stringify({ ready: 'relay', tcp: `127.0.0.1:${(server.address() as AddressInfo).port}`, mode })}\n`,
  );
  const stop = (): void => {
    sender.close();
    dealer.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  for await (const frames of dealer) {
    for (let i = 0; i + 1 < frames.length; i += 2)
      conns.get((frames[i] as Buffer).readUInt32BE(0))?.(frames[i + 1] as Buffer);
  }
}

void main();
