/**
 * The browser build's only transport: the page's own WebSocket, one binary message per Thrift
 * message (docs/protocol/client.md §2.2), ws:// or wss://. No Node API: the constructor is looked
 * up on globalThis at connect time, so this file also loads (and is tested) where there is none.
 * A wss:// certificate is the browser's business (its own store, its own host-name check); a
 * refused one shows only as a failed connection (close code 1006).
 *
 * Bounds as on Node, as far as a browser lets us: a message above `maxFrame` or a text message
 * drops the connection (the browser has already buffered it; we do not pass it on), and send()
 * refuses while more than `maxBufferedBytes` wait in the socket's buffer.
 */
import { ClientError } from './errors';
import {
  DEFAULT_CONNECT_TIMEOUT,
  DEFAULT_MAX_BUFFERED,
  DEFAULT_MAX_FRAME,
  type Connector,
  type Transport,
  type TransportHandlers,
  type TransportOptions,
} from './transport';

/** The part of the DOM WebSocket this file uses (the tree type-checks without the DOM library). */
interface DomWebSocket {
  binaryType: string;
  readonly readyState: number;
  readonly bufferedAmount: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
}
type DomWebSocketClass = new (url: string) => DomWebSocket;

const OPEN = 1;

function webSocketClass(): DomWebSocketClass | undefined {
  return (globalThis as { WebSocket?: DomWebSocketClass }).WebSocket;
}

export function connectBrowserWs(
  url: string,
  handlers: TransportHandlers,
  opts: TransportOptions = {},
): Promise<Transport> {
  const Ws = webSocketClass();
  if (!Ws) return Promise.reject(new ClientError('CONNECT', 'this environment has no WebSocket', { retryable: false }));
  if (!/^wss?:\/\//.test(url))
    return Promise.reject(
      new ClientError('CONNECT', `${JSON.stringify(url)} is not a ws:// or wss:// URL`, { retryable: false }),
    );
  const maxFrame = opts.maxFrame ?? DEFAULT_MAX_FRAME;
  const maxBuffered = opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED;
  const timeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT;
  let ws: DomWebSocket;
  try {
    ws = new Ws(url);
  } catch (err) {
    return Promise.reject(new ClientError('CONNECT', `cannot connect to ${url}: ${(err as Error).message}`));
  }
  ws.binaryType = 'arraybuffer';
  let open = false;
  let ended = false;
  /** handlers.close exactly once, a turn later (as a Node socket's close event would come). */
  const end = (reason: string): void => {
    if (ended) return;
    ended = true;
    ws.onmessage = null;
    if (open) setTimeout(() => handlers.close(reason), 0);
  };
  const transport: Transport = {
    kind: 'ws',
    endpoint: url,
    send(framed) {
      if (ended || ws.readyState !== OPEN || ws.bufferedAmount + framed.length > maxBuffered) return false;
      ws.send(framed.subarray(4));
      return true;
    },
    close(why) {
      end(why);
      try {
        ws.close(1000);
      } catch {
        // already closing
      }
    },
  };
  ws.onmessage = (ev) => {
    const data = ev.data;
    if (!(data instanceof ArrayBuffer)) return transport.close('broker sent a text WebSocket message');
    if (data.byteLength > maxFrame)
      return transport.close(`broker sent a ${data.byteLength}-byte message, over the limit ${maxFrame}`);
    handlers.message(Buffer.from(data));
  };
  return new Promise<Transport>((resolve, reject) => {
    const timer = setTimeout(() => {
      ended = true;
      reject(new ClientError('CONNECT', `cannot connect to ${url}: no answer within ${timeoutMs} ms`));
      ws.close();
    }, timeoutMs);
    ws.onopen = () => {
      clearTimeout(timer);
      if (ended) return;
      open = true;
      resolve(transport);
    };
    // A browser says nothing about why (no status, no errno): the close code is all there is.
    ws.onerror = () => undefined;
    ws.onclose = (ev) => {
      clearTimeout(timer);
      if (!open) {
        if (!ended) reject(new ClientError('CONNECT', `cannot connect to ${url}: closed (code ${ev.code})`));
        ended = true;
        return;
      }
      end(`closed by the broker (code ${ev.code})`);
    };
  });
}

/** The page's default transport: wss on an https:// page (a browser refuses ws:// there), else ws. */
export function defaultBrowserTransport(): 'ws' | 'wss' {
  return (globalThis as { location?: { protocol?: string } }).location?.protocol === 'https:' ? 'wss' : 'ws';
}

/** The browser build's Connector: WebSocket only (ws, or wss which must be a wss:// URL). */
export const connectBrowser: Connector = (kind, endpoint, handlers, opts) => {
  if (kind === 'wss' && !/^wss:\/\//.test(endpoint))
    return Promise.reject(
      new ClientError('CONNECT', `${JSON.stringify(endpoint)} is not a wss:// URL`, { retryable: false }),
    );
  return kind === 'ws' || kind === 'wss'
    ? connectBrowserWs(endpoint, handlers, opts)
    : Promise.reject(
        new ClientError('CONNECT', `a browser cannot open a ${kind} connection; use a ws or wss endpoint`, {
          retryable: false,
        }),
      );
};
