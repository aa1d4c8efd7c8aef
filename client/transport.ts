/**
 * What the SDK needs from a byte pipe to a broker, with no platform in it: the Node SDK plugs in
 * framed TCP and `ws` (transports.ts), the browser build the page's own WebSocket
 * (ws-browser.ts). One Thrift message at a time either way.
 */
import type { TransportKind } from './brokerlist';

export interface TransportHandlers {
  /** one whole Thrift message, without a frame length */
  message(bytes: Buffer): void;
  /** called exactly once, whoever closed it */
  close(reason: string): void;
}

export interface TransportOptions {
  /** largest reply frame / WS message accepted from the broker; default 4 MiB */
  maxFrame?: number;
  /** bytes the OS-side write buffer may hold before send() refuses; default 1 MiB */
  maxBufferedBytes?: number;
  /** deadline to open the connection (TCP connect or WS handshake); default 5000 ms */
  connectTimeoutMs?: number;
  /** source address to bind (load tests spread connections over 127.0.0.x); Node only; default: the OS picks */
  localAddress?: string;
  /**
   * tls and wss: the CA certificate(s), PEM, the broker's certificate must chain to, instead of
   * the system store; Node only (a browser always uses its own store). The host name is checked
   * either way.
   */
  ca?: string | Buffer | Array<string | Buffer>;
}

export interface Transport {
  readonly kind: TransportKind;
  /** what it was opened with: host:port, ws://… or wss://… */
  readonly endpoint: string;
  /** Sends one message given with its 4-byte frame length; false = not sent (write buffer full or closed). */
  send(framed: Buffer): boolean;
  /** Closes at once (no graceful drain); handlers.close follows with `reason`. */
  close(reason: string): void;
}

/** Opens a transport of `kind` to `endpoint`; resolves once it is open, rejects with a CONNECT ClientError. */
export type Connector = (
  kind: TransportKind,
  endpoint: string,
  handlers: TransportHandlers,
  opts?: TransportOptions,
) => Promise<Transport>;

export const DEFAULT_MAX_FRAME = 4 << 20;
export const DEFAULT_MAX_BUFFERED = 1 << 20;
export const DEFAULT_CONNECT_TIMEOUT = 5000;
