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
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Logger } from '../shared/log';
import type { ThriftProtocol } from '../shared/thrift/header';
import type { Wire } from './client-conn';
import { atEndOfTurn, type EndOfTurn } from './coalesce';
import type { SharedPush } from './shared-push';
import type { ConnInput, TcpHandlers } from './tcp';
import { THRIFT_JSON_SUBPROTOCOL } from './thrift-json';
import type { TlsCredentials } from './tls';

const BINARY = { binary: true };
const TEXT = { binary: false };

/**
 * One WebSocket as a Wire: fields of one object, no closures per connection (see edge/tcp.ts).
 * The frames ws writes within one turn stay corked in the socket and leave in one syscall.
 */
class WsConnection implements Wire, EndOfTurn {
  input: ConnInput | undefined;
  private corked = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly raw: Socket,
    readonly remote: string,
    readonly transport: 'ws' | 'wss',
    readonly json: boolean,
  ) {}

  write(message: Buffer, done: () => void): void {
    const { ws } = this;
    if (ws.readyState !== ws.OPEN) return done();
    if (!this.corked) {
      this.corked = true;
      this.raw.cork();
      atEndOfTurn(this);
    }
    ws.send(message, this.json ? TEXT : BINARY, done);
  }

  writeShared(push: SharedPush, protocol: ThriftProtocol, done: () => void): void {
    this.write(push.bytes(protocol), done);
  }

  /** EndOfTurn: the turn's frames leave */
  flush(): void {
    this.corked = false;
    this.raw.uncork();
  }

  bufferedBytes(): number {
    return this.ws.bufferedAmount;
  }

  close(reason: string, flush?: boolean): void {
    const { ws } = this;
    if (ws.readyState === ws.OPEN) ws.close(flush ? 1000 : 1008, reason.slice(0, 120));
    if (!flush) ws.terminate();
    else setTimeout(() => ws.terminate(), 1000).unref();
  }

  received(data: RawData, isBinary: boolean): void {
    const { input, json } = this;
    if (!input) return;
    if (isBinary === json) {
      this.ws.close(1003, json ? 'text Thrift JSON messages only' : 'binary Thrift messages only');
      return;
    }
    input.message(Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data));
  }
}

/** The WsConnection a socket belongs to, for its listeners (shared functions, not closures). */
const CONNECTION = Symbol('noon.wsConnection');
type TaggedWebSocket = WebSocket & { [CONNECTION]?: WsConnection };

function onWsError(this: WebSocket): void {
  this.terminate();
}

function onWsMessage(this: TaggedWebSocket, data: RawData, isBinary: boolean): void {
  this[CONNECTION]?.received(data, isBinary);
}

function onWsClose(this: TaggedWebSocket): void {
  this[CONNECTION]?.input?.closed();
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
  wss.on('connection', (ws: TaggedWebSocket, req) => {
    ws.on('error', onWsError);
    const json = ws.protocol === THRIFT_JSON_SUBPROTOCOL;
    const wire = new WsConnection(ws, req.socket, req.socket.remoteAddress ?? 'unknown', transport, json);
    const input = opts.handlers.open(wire);
    if (!input) {
      ws.terminate();
      return;
    }
    wire.input = input;
    ws[CONNECTION] = wire;
    ws.on('message', onWsMessage);
    ws.on('close', onWsClose);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  return { server, wss, endpoint: `${transport}://${opts.host}:${(server.address() as AddressInfo).port}` };
}
