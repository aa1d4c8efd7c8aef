// The baseline of the room fan-out bench: a bare TCP server that writes every frame a sender
// connection sends (4-byte length + bytes) to every member connection, then echoes it to the
// sender as its acknowledgement. A connection's first frame says what it is ("member" or
// "sender"). No Thrift, no sessions, no ZeroMQ hop, no limits.
import { createServer, type Socket } from 'node:net';
import { FrameDecoder } from '../../edge/framing';

const members = new Set<Socket>();
const server = createServer((socket) => {
  socket.setNoDelay(true);
  const decoder = new FrameDecoder(1 << 20);
  let role: 'member' | 'sender' | undefined;
  socket.on('data', (chunk: Buffer) => {
    for (const frame of decoder.push(chunk)) {
      if (role === undefined) {
        role = frame.toString() === 'member' ? 'member' : 'sender';
        if (role === 'member') members.add(socket);
        continue;
      }
      const framed = Buffer.alloc(4 + frame.length);
      framed.writeUInt32BE(frame.length, 0);
      frame.copy(framed, 4);
      for (const m of members) m.write(framed);
      socket.write(framed);
    }
  });
  socket.on('close', () => members.delete(socket));
  socket.on('error', () => undefined);
});
server.listen(0, '127.0.0.1', () => {
  const a = server.address();
  const port = typeof a === 'object' && a ? a.port : 0;
  process.stdout.write(`${JSON.stringify({ ready: 'fanout', tcp: `127.0.0.1:${port}` })}\n`);
});
process.once('SIGTERM', () => process.exit(0));
