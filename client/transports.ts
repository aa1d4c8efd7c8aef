/**
 * The Node SDK's byte pipes to a broker, one Thrift message at a time: framed TCP (4-byte
 * big-endian length, then the message) or WebSocket with `ws` (one binary WS message per Thrift
 * message). Both bound what they accept (a reply frame above `maxFrame` drops the connection
 * before it is buffered) and what they buffer for writing (`send` refuses instead of growing
 * without bound). The browser build uses ws-browser.ts instead; both fit transport.ts.
 */
import * as net from 'node:net';
import WebSocket from 'ws';
import { ClientError } from './errors';
import type { TransportKind } from './brokerlist';
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
  return new ClientError('CONNECT', `cannot connect to ${endpoint}: ${(err as Error).message}`, { cause: err });
}

export function connectTcp(
  endpoint: string,
  handlers: TransportHandlers,
  opts: TransportOptions = {},
): Promise<Transport> {
  const { host, port } = parseHostPort(endpoint);
  const maxBuffered = opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED;
  const reader = new FrameReader(opts.maxFrame ?? DEFAULT_MAX_FRAME);
  const socket = net.connect({
    host,
    port,
    noDelay: true,
    ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
  });
  let reason = 'closed by the broker';
  let open = false;
  const transport: Transport = {
    kind: 'tcp',
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
    socket.once('connect', () => {
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

export function connectWs(url: string, handlers: TransportHandlers, opts: TransportOptions = {}): Promise<Transport> {
  const maxBuffered = opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED;
  const timeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT;
  // maxPayload bounds what we accept; compression stays off, as on the broker's side (edge/ws.ts)
  const ws = new WebSocket(url, {
    maxPayload: opts.maxFrame ?? DEFAULT_MAX_FRAME,
    perMessageDeflate: false,
    handshakeTimeout: timeoutMs,
    ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
  });
  let reason = 'closed by the broker';
  let open = false;
  const transport: Transport = {
    kind: 'ws',
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

/** Opens a transport of either kind: the Node SDK's Connector. */
export const connectTransport: Connector = (
  kind: TransportKind,
  endpoint: string,
  handlers: TransportHandlers,
  opts?: TransportOptions,
): Promise<Transport> => (kind === 'tcp' ? connectTcp(endpoint, handlers, opts) : connectWs(endpoint, handlers, opts));
