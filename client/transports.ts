/**
 * The Node SDK's byte pipes to a broker, one Thrift message at a time: framed TCP (4-byte
 * big-endian length, then the message), the same over TLS, or WebSocket with `ws` (one binary WS
 * message per Thrift message; ws:// or wss://). All bound what they accept (a reply frame above
 * `maxFrame` drops the connection before it is buffered) and what they buffer for writing (`send`
 * refuses instead of growing without bound). The browser build uses ws-browser.ts instead; both
 * fit transport.ts.
 *
 * TLS always verifies: the broker's certificate must chain to `ca` (when given) or to the system
 * store (Node's bundled CAs, plus NODE_EXTRA_CA_CERTS), and name the host connected to. A
 * certificate that does not is a CONNECT error saying so, not retryable.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { Readable } from 'node:stream';
import * as tls from 'node:tls';
import WebSocket from 'ws';
import { ClientError } from './errors';
import { CA_HINT, certificateProblem, type FetchLike, type TransportKind } from './brokerlist';
import {
  DEFAULT_CONNECT_TIMEOUT,
  DEFAULT_MAX_BUFFERED,
  DEFAULT_MAX_FRAME,
  type Connector,
  type Transport,
  type TransportHandlers,
  type TransportOptions,
} from './transport';

export { DEFAULT_MAX_FRAME, type Connector, type Transport, type TransportHandlers, type TransportOptions };

/** Splits "host:port" or "[v6]:port". */
export function parseHostPort(endpoint: string): { host: string; port: number } {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^:\s]+):(\d{1,5})$/.exec(endpoint);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 1 && port <= 65535))
    throw new ClientError('CONNECT', `${JSON.stringify(endpoint)} is not host:port`, { retryable: false });
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port };
}

/**
 * Incremental framed-transport reader. Our own, not thrift's receiver: the length is checked
 * (1..maxFrame) as soon as its 4 bytes arrive, before any of the frame is buffered.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private need = -1;

  constructor(private readonly maxFrame: number) {}

  /** Feeds bytes; calls onFrame per whole frame. Throws a PROTOCOL ClientError on a bad length. */
  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < 4) return;
        const len = this.take(4).readInt32BE(0);
        if (len <= 0 || len > this.maxFrame)
          throw new ClientError('PROTOCOL', `reply frame length ${len} is outside 1..${this.maxFrame}`);
        this.need = len;
      }
      if (this.buffered < this.need) return;
      const frame = this.take(this.need);
      this.need = -1;
      onFrame(frame);
    }
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.buffered);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return out;
  }
}

function connectError(endpoint: string, err: unknown): ClientError {
  const cert = certificateProblem(err);
  if (cert !== undefined)
    return new ClientError('CONNECT', `cannot connect to ${endpoint}: TLS ${cert}; ${CA_HINT}`, {
      cause: err,
      retryable: false,
    });
  return new ClientError('CONNECT', `cannot connect to ${endpoint}: ${(err as Error).message}`, { cause: err });
}

/**
 * One SecureContext per CA value (by identity: the last one given), so that thousands of
 * connections with the same `ca` (a load test) parse it once rather than once each.
 */
let lastCa: { ca: NonNullable<TransportOptions['ca']>; context: tls.SecureContext } | undefined;

function caContext(ca: NonNullable<TransportOptions['ca']>): tls.SecureContext {
  if (lastCa?.ca !== ca) lastCa = { ca, context: tls.createSecureContext({ ca }) };
  return lastCa.context;
}

/** Framed Thrift over plain TCP. */
export function connectTcp(
  endpoint: string,
  handlers: TransportHandlers,
  opts: TransportOptions = {},
): Promise<Transport> {
  return connectFramed('tcp', endpoint, handlers, opts);
}

/** Framed Thrift over TLS: the same frames inside a verified TLS session. */
export function connectTls(
  endpoint: string,
  handlers: TransportHandlers,
  opts: TransportOptions = {},
): Promise<Transport> {
  return connectFramed('tls', endpoint, handlers, opts);
}

function connectFramed(
  kind: 'tcp' | 'tls',
  endpoint: string,
  handlers: TransportHandlers,
  opts: TransportOptions,
): Promise<Transport> {
  const { host, port } = parseHostPort(endpoint);
  const maxBuffered = opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED;
  const reader = new FrameReader(opts.maxFrame ?? DEFAULT_MAX_FRAME);
  const local = opts.localAddress ? { localAddress: opts.localAddress } : {};
  const socket =
    kind === 'tls'
      ? tls.connect({
          host,
          port,
          // SNI carries a name, never an address; the identity check uses `host` either way
          ...(net.isIP(host) ? {} : { servername: host }),
          ...(opts.ca !== undefined ? { secureContext: caContext(opts.ca) } : {}),
          rejectUnauthorized: true,
          ...local,
        })
      : net.connect({ host, port, noDelay: true, ...local });
  if (kind === 'tls') socket.setNoDelay(true);
  let reason = 'closed by the broker';
  let open = false;
  const transport: Transport = {
    kind,
    endpoint,
    send(framed) {
      if (!open || socket.destroyed || socket.writableLength + framed.length > maxBuffered) return false;
      socket.write(framed);
      return true;
    },
    close(why) {
      reason = why;
      socket.destroy();
    },
  };
  socket.on('data', (chunk: Buffer) => {
    try {
      reader.push(chunk, (frame) => handlers.message(frame));
    } catch (err) {
      transport.close((err as Error).message);
    }
  });
  return new Promise<Transport>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(
        new ClientError(
          'CONNECT',
          `cannot connect to ${endpoint}: no answer within ${opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT} ms`,
        ),
      );
      socket.destroy();
    }, opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT);
    // a TLS socket is usable once its handshake (and the certificate check) is done
    socket.once(kind === 'tls' ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      open = true;
      resolve(transport);
    });
    socket.on('error', (err) => {
      reason = `socket error: ${err.message}`;
      if (!open) {
        clearTimeout(timer);
        reject(connectError(endpoint, err));
      }
    });
    socket.once('close', () => {
      clearTimeout(timer);
      if (open) handlers.close(reason);
      open = false;
    });
  });
}

/** WebSocket, ws:// or wss:// (verified against `ca` or the system store). */
export function connectWs(url: string, handlers: TransportHandlers, opts: TransportOptions = {}): Promise<Transport> {
  const maxBuffered = opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED;
  const timeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT;
  const secure = url.startsWith('wss:');
  let ws: WebSocket;
  try {
    // maxPayload bounds what we accept; compression stays off, as on the broker's side (edge/ws.ts)
    ws = new WebSocket(url, {
      maxPayload: opts.maxFrame ?? DEFAULT_MAX_FRAME,
      perMessageDeflate: false,
      handshakeTimeout: timeoutMs,
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      ...(secure ? { rejectUnauthorized: true, ...(opts.ca !== undefined ? { ca: opts.ca } : {}) } : {}),
    });
  } catch (err) {
    return Promise.reject(
      new ClientError('CONNECT', `cannot connect to ${url}: ${(err as Error).message}`, { retryable: false }),
    );
  }
  let reason = 'closed by the broker';
  let open = false;
  const transport: Transport = {
    kind: secure ? 'wss' : 'ws',
    endpoint: url,
    send(framed) {
      if (!open || ws.readyState !== WebSocket.OPEN || ws.bufferedAmount + framed.length > maxBuffered) return false;
      ws.send(framed.subarray(4), { binary: true });
      return true;
    },
    close(why) {
      reason = why;
      ws.terminate();
    },
  };
  ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
    if (!isBinary) return transport.close('broker sent a text WebSocket message');
    const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    handlers.message(bytes);
  });
  return new Promise<Transport>((resolve, reject) => {
    ws.once('open', () => {
      open = true;
      resolve(transport);
    });
    ws.on('error', (err) => {
      reason = `websocket error: ${err.message}`;
      if (!open) reject(connectError(url, err));
    });
    ws.once('close', (code: number) => {
      if (open) handlers.close(reason === 'closed by the broker' ? `closed by the broker (code ${code})` : reason);
      open = false;
    });
  });
}

/** Opens a transport of any kind: the Node SDK's Connector. */
export const connectTransport: Connector = (
  kind: TransportKind,
  endpoint: string,
  handlers: TransportHandlers,
  opts?: TransportOptions,
): Promise<Transport> => {
  if (kind === 'tcp') return connectTcp(endpoint, handlers, opts);
  if (kind === 'tls') return connectTls(endpoint, handlers, opts);
  const want = kind === 'wss' ? /^wss:\/\//i : /^wss?:\/\//i;
  if (!want.test(endpoint))
    return Promise.reject(
      new ClientError('CONNECT', `${JSON.stringify(endpoint)} is not a ${kind}:// URL`, { retryable: false }),
    );
  return connectWs(endpoint, handlers, opts);
};

/**
 * A fetch for the BrokerList over node:http(s) that verifies an https:// server against `ca`
 * instead of the system store (Node's own fetch takes no CA). Enough of fetch for
 * fetchBrokers: GET, the given headers and signal, the status and the body as a stream.
 */
export function fetchWithCa(ca: NonNullable<TransportOptions['ca']>): FetchLike {
  return (url, init) =>
    new Promise<Response>((resolve, reject) => {
      let target: URL;
      try {
        target = new URL(url);
      } catch (err) {
        reject(err as Error);
        return;
      }
      if (target.protocol !== 'https:' && target.protocol !== 'http:') {
        reject(new TypeError(`${url}: only http:// and https:// are supported`));
        return;
      }
      const options = { headers: init.headers, signal: init.signal };
      const onResponse = (res: http.IncomingMessage): void => {
        const status = res.statusCode ?? 0;
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers))
          if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
        const noBody = status === 204 || status === 205 || status === 304 || status < 200;
        if (noBody) res.resume();
        try {
          const body = noBody ? null : (Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>);
          resolve(new Response(body, { status: status >= 200 && status <= 599 ? status : 502, headers }));
        } catch (err) {
          res.destroy();
          reject(err as Error);
        }
      };
      const req =
        target.protocol === 'https:'
          ? https.get(target, { ...options, ca, rejectUnauthorized: true }, onResponse)
          : http.get(target, options, onResponse);
      req.on('error', reject);
    });
}
