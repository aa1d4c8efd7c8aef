/**
 * The Thrift-over-WebSocket listener (ws://, or wss:// with `tls`): one Thrift message per binary
 * message, compact or binary protocol. A client that offers the subprotocol `thrift-json` speaks
 * Thrift's JSON protocol instead: one message per text message, both ways (edge/thrift-json.ts). maxPayload is the frame limit (the ws default is 100 MiB) and per-message compression
 * is off; the HTTP(S) server under it has explicit header and request timeouts against
 * slowloris, and with TLS the handshake must be over within the same headersTimeoutMs.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../shared/log';
import type { Wire } from './client-conn';
import { atEndOfTurn } from './coalesce';
import type { TcpHandlers } from './tcp';
import { THRIFT_JSON_SUBPROTOCOL } from './thrift-json';
import type { TlsCredentials } from './tls';

const BINARY = { binary: true };
const TEXT = { binary: false };

function wsWire(ws: WebSocket, raw: Socket, remote: string, transport: 'ws' | 'wss', json: boolean): Wire {
  const options = json ? TEXT : BINARY;
  // The frames ws writes within one turn stay corked in the socket and leave in one syscall.
  let corked = false;
  const uncork = {
    flush: (): void => {
      corked = false;
      raw.uncork();
    },
  };
  const send = (message: Buffer, done: () => void): void => {
    if (ws.readyState !== ws.OPEN) return done();
    if (!corked) {
      corked = true;
      raw.cork();
      atEndOfTurn(uncork);
    }
    ws.send(message, options, done);
  };
  return {
    transport,
    remote,
    json,
    write: send,
    writeShared: (push, protocol, done) => send(push.bytes(protocol), done),
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
  /** wss:// instead of ws:// */
  tls?: TlsCredentials;
}): Promise<{ server: Server; endpoint: string; wss: WebSocketServer }> {
  const upgradeRequired = (_req: unknown, res: ServerResponse): void => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('WebSocket upgrade required\n');
  };
  const transport = opts.tls ? 'wss' : 'ws';
  let server: Server;
  if (opts.tls) {
    const httpsServer = createHttpsServer(
      { ...opts.tls.secureOptions(), handshakeTimeout: opts.headersTimeoutMs },
      upgradeRequired,
    );
    // a failed or too-slow handshake: the socket stays open unless destroyed here
    httpsServer.on('tlsClientError', (err, socket) => {
      opts.logger.debug({ err: err.message, remote: socket.remoteAddress }, 'wss handshake failed');
      socket.destroy();
    });
    opts.tls.use(httpsServer);
    server = httpsServer;
  } else {
    server = createServer(upgradeRequired);
  }
  server.headersTimeout = opts.headersTimeoutMs;
  server.requestTimeout = opts.headersTimeoutMs;
  server.maxHeadersCount = 100;
  server.on('clientError', (_err, socket) => socket.destroy());
  const wss = new WebSocketServer({
    server,
    maxPayload: opts.maxFrame,
    perMessageDeflate: false,
    clientTracking: false,
    // a client asks for Thrift JSON by offering `thrift-json`; without it the connection speaks binary frames
    handleProtocols: (offered) => (offered.has(THRIFT_JSON_SUBPROTOCOL) ? THRIFT_JSON_SUBPROTOCOL : false),
  });
  wss.on('error', (err) => opts.logger.error({ err }, 'ws server error'));
  wss.on('connection', (ws, req) => {
    ws.on('error', () => ws.terminate());
    const remote = req.socket.remoteAddress ?? 'unknown';
    const json = ws.protocol === THRIFT_JSON_SUBPROTOCOL;
    const conn = opts.handlers.open(wsWire(ws, req.socket, remote, transport, json));
    if (!conn) {
      ws.terminate();
      return;
    }
    ws.on('message', (data, isBinary) => {
      if (isBinary === json) {
        ws.close(1003, json ? 'text Thrift JSON messages only' : 'binary Thrift messages only');
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
  return { server, wss, endpoint: `${transport}://${opts.host}:${(server.address() as AddressInfo).port}` };
}
