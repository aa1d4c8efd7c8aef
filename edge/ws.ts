/**
 * The Thrift-over-WebSocket listener: one Thrift message per binary message. maxPayload is the
 * frame limit (the ws default is 100 MiB) and per-message compression is off; the HTTP server
 * under it has explicit header and request timeouts against slowloris.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../shared/log';
import type { Wire } from './client-conn';
import type { TcpHandlers } from './tcp';

function wsWire(ws: WebSocket, remote: string): Wire {
  return {
    transport: 'ws',
    remote,
    write(message, done) {
      if (ws.readyState !== ws.OPEN) return done();
      ws.send(message, { binary: true }, () => done());
    },
    bufferedBytes: () => ws.bufferedAmount,
    close: (reason, flush) => {
      if (ws.readyState === ws.OPEN) ws.close(flush ? 1000 : 1008, reason.slice(0, 120));
      if (!flush) ws.terminate();
      else setTimeout(() => ws.terminate(), 1000).unref();
    },
  };
}

export async function listenWs(opts: {
  host: string;
  port: number;
  maxFrame: number;
  headersTimeoutMs: number;
  logger: Logger;
  handlers: TcpHandlers;
}): Promise<{ server: Server; endpoint: string; wss: WebSocketServer }> {
  const server = createServer((_req, res) =>
    res.writeHead(426, { 'content-type': 'text/plain' }).end('WebSocket upgrade required\n'),
  );
  server.headersTimeout = opts.headersTimeoutMs;
  server.requestTimeout = opts.headersTimeoutMs;
  server.maxHeadersCount = 100;
  server.on('clientError', (_err, socket) => socket.destroy());
  const wss = new WebSocketServer({
    server,
    maxPayload: opts.maxFrame,
    perMessageDeflate: false,
    clientTracking: false,
  });
  wss.on('error', (err) => opts.logger.error({ err }, 'ws server error'));
  wss.on('connection', (ws, req) => {
    ws.on('error', () => ws.terminate());
    const remote = req.socket.remoteAddress ?? 'unknown';
    const conn = opts.handlers.open(wsWire(ws, remote));
    if (!conn) {
      ws.terminate();
      return;
    }
    ws.on('message', (data, isBinary) => {
      if (!isBinary) {
        ws.close(1003, 'binary Thrift messages only');
        return;
      }
      conn.message(Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data));
    });
    ws.on('close', () => conn.closed());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  return { server, wss, endpoint: `ws://${opts.host}:${(server.address() as AddressInfo).port}` };
}
