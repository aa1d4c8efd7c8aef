// The baseline of the room fan-out bench: a bare TCP server that writes the frames a sender
// connection sends (4-byte length + bytes) to every member connection. A connection's first
// frame says what it is ("member" or "sender"). The frames of one read from the sender go to
// each member in one write (what a plain Node fan-out would do to spare syscalls); no Thrift, no
// sessions, no ZeroMQ hop, no limits, no acknowledgement to the sender (the bench waits for a member instead); a member is answered
// one frame "ok" once it is one.
import { createServer, type Socket } from 'node:net';
import { FrameDecoder } from '../../edge/framing';

const members = new Set<Socket>();
const OK = Buffer.from([0, 0, 0, 2, 0x6f, 0x6b]);
const server = createServer((socket) => {
  socket.setNoDelay(true);
  const decoder = new FrameDecoder(1 << 20);
  let role: 'member' | 'sender' | undefined;
  socket.on('data', (chunk: Buffer) => {
    const out: Buffer[] = [];
    for (const frame of decoder.push(chunk)) {
      if (role === undefined) {
        role = frame.toString() === 'member' ? 'member' : 'sender';
        if (role === 'member') {
          members.add(socket);
          socket.write(OK); // the member knows it will get every frame from now on
        }
        continue;
      }
      const len = Buffer.allocUnsafe(4);
      len.writeUInt32BE(frame.length, 0);
      out.push(len, frame);
    }
    if (out.length === 0) return;
    const bytes = Buffer.concat(out);
    for (const m of members) m.write(bytes);
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
