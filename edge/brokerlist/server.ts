/**
 * The BrokerList HTTP endpoint: GET /brokers (and /) answers which brokers a client may connect
 * to and how loaded they are, from the Yellow Directory. The body is cached and rebuilt at most
 * every maxAgeMs, so a request flood costs a cached write, never a walk of the table. Every HTTP
 * timeout and count is explicit (docs/limits.md, "BrokerList (HTTP)"): Node's defaults are 60 s
 * headers / 300 s request.
 *
 *   { "version": "0.1.0",
 *     "brokerList": { "127.0.0.1:7800": 0.067 },
 *     "brokers": [{ "instanceId": "...", "tcp": "127.0.0.1:7800", "ws": "ws://127.0.0.1:7801",
 *                   "tls": "127.0.0.1:7810", "wss": "wss://127.0.0.1:7811", "load": 0.067, "connections": 12 }] }
 *
 * `brokerList` keeps its original shape for old clients: plaintext TCP endpoints only. The TLS
 * endpoints (`tls`: framed Thrift over TLS, `wss`) are in `brokers` only.
 *
 * It listens on HTTP, on HTTPS (with `tls`: its own port, the certificate swapped on reload for
 * new connections), or both; the same answers on each.
 *
 * CORS, for games in a browser: a request whose Origin is in corsOrigins (or any, with "*") gets
 * `Access-Control-Allow-Origin: <that origin>`, and its preflight (OPTIONS with
 * Access-Control-Request-Method) a 204 allowing GET and HEAD. Any other origin gets no CORS
 * header, so the browser keeps the answer from the page; without corsOrigins nothing changes.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from '../../shared/log';
import type { TlsCredentials } from '../tls';
import type { Directory } from '../../yellow/directory';
import type { InstanceRecord } from '../../yellow/types';

export interface BrokerListServerOptions {
  directory: Directory;
  host: string;
  /** the HTTP port; 0 = ephemeral; start() returns the bound URL */
  port: number;
  /** listen on HTTP (port); default true. False needs `tls`. */
  plaintext?: boolean;
  /** the certificate of the HTTPS listener; none without it */
  tls?: TlsCredentials;
  /** the HTTPS port (with `tls`); 0 = ephemeral */
  httpsPort?: number;
  logger: Logger;
  /** the "version" field of the answer */
  version: string;
  /** the cached body is rebuilt at most this often; default 1000 ms (answers are at most 1 s old) */
  maxAgeMs?: number;
  /** the whole header block must arrive within this; default 10 000 ms */
  headersTimeoutMs?: number;
  /** the whole request must arrive within this; default 15 000 ms (must be ≥ headersTimeoutMs) */
  requestTimeoutMs?: number;
  /** idle keep-alive connections close after this; default 5000 ms */
  keepAliveTimeoutMs?: number;
  /** default 50 */
  maxHeadersCount?: number;
  /** open connections; past it new ones are refused by the OS-level accept; default 10 000 */
  maxConnections?: number;
  /** how often Node enforces the two timeouts above; default 1000 ms (Node's own is 30 s) */
  timeoutCheckMs?: number;
  /** origins allowed to read the answer from a browser page (CORS); "*" = any; default none */
  corsOrigins?: readonly string[];
  /** how long a browser may cache a preflight answer (Access-Control-Max-Age); default 600 s */
  corsMaxAgeSeconds?: number;
}

export interface BrokerEntry {
  instanceId: string;
  tcp?: string;
  ws?: string;
  /** framed Thrift over TLS, host:port */
  tls?: string;
  /** wss://host:port */
  wss?: string;
  load: number;
  connections?: number;
}

export interface BrokerListBody {
  version: string;
  brokerList: Record<string, number>;
  brokers: BrokerEntry[];
}

/** A broker's 0..1 load: its own score, else its event-loop utilisation. */
export function loadOf(r: InstanceRecord): number {
  const raw = r.load.score ?? r.load.elu;
  const clamped = Number.isFinite(raw) ? Math.min(1, Math.max(0, raw)) : 1;
  return Math.round(clamped * 10_000) / 10_000;
}

/** The answer for a directory: live, non-draining brokers only, in instanceId order. */
export function buildBrokerList(directory: Directory, version: string): BrokerListBody {
  const brokerList: Record<string, number> = {};
  const brokers: BrokerEntry[] = [];
  for (const r of directory.instances({ role: 'broker' })) {
    const { tcp, ws, tls, wss } = r.endpoints;
    if (!tcp && !ws && !tls && !wss) continue; // not reachable by clients (e.g. a test harness's pretend broker)
    const load = loadOf(r);
    if (tcp && !Object.prototype.hasOwnProperty.call(brokerList, tcp)) brokerList[tcp] = load;
    brokers.push({
      instanceId: r.instanceId,
      ...(tcp && { tcp }),
      ...(ws && { ws }),
      ...(tls && { tls }),
      ...(wss && { wss }),
      load,
      ...(r.load.connections !== undefined && { connections: r.load.connections }),
    });
  }
  return { version, brokerList, brokers };
}

const LIST_PATHS = new Set(['/', '/brokers']);
/** Request headers a preflight may ask for: the CORS-safelisted ones and the few a client sends. */
const CORS_ALLOW_HEADERS = 'Accept, Accept-Language, Content-Language, Content-Type, Cache-Control, Pragma';

export class BrokerListServer {
  private servers: Server[] = [];
  private urls: { http?: string; https?: string } = {};
  private cache?: { body: Buffer; builtAt: number };
  private readonly maxAgeMs: number;
  private readonly corsAny: boolean;
  private readonly corsOrigins: ReadonlySet<string>;

  constructor(private readonly opts: BrokerListServerOptions) {
    this.maxAgeMs = opts.maxAgeMs ?? 1000;
    this.corsAny = opts.corsOrigins?.includes('*') ?? false;
    this.corsOrigins = new Set(opts.corsOrigins ?? []);
    this.watchDrains();
  }

  /** Listens; resolves with the HTTP URL (http://host:port), or the HTTPS one when plaintext is off. */
  async start(): Promise<string> {
    const plaintext = this.opts.plaintext ?? true;
    const { tls } = this.opts;
    if (!plaintext && !tls) throw new Error('brokerlist: plaintext is off and there is no TLS certificate');
    try {
      if (plaintext) this.urls.http = await this.listen(this.opts.port);
      if (tls) this.urls.https = await this.listen(this.opts.httpsPort ?? 0, tls);
    } catch (err) {
      await this.stop();
      throw err;
    }
    return (this.urls.http ?? this.urls.https) as string;
  }

  private watchDrains(): void {
    const { directory } = this.opts;
    directory.on('change', (r, prev) => {
      if (r.role === 'broker' && r.draining && !prev.draining) this.cache = undefined;
    });
    directory.on('down', ({ role }) => {
      if (role === 'broker') this.cache = undefined;
    });
  }

  /** The bound URLs: http (unless plaintext is off) and https (with a certificate). */
  get endpoints(): { http?: string; https?: string } {
    return { ...this.urls };
  }

  async stop(): Promise<void> {
    const servers = this.servers;
    this.servers = [];
    this.urls = {};
    await Promise.all(
      servers.map((s) => {
        const closed = new Promise<void>((resolve) => s.close(() => resolve()));
        s.closeAllConnections();
        return closed;
      }),
    );
  }

  private async listen(port: number, tls?: TlsCredentials): Promise<string> {
    const headersTimeout = this.opts.headersTimeoutMs ?? 10_000;
    const options = {
      headersTimeout,
      requestTimeout: Math.max(this.opts.requestTimeoutMs ?? 15_000, headersTimeout),
      keepAliveTimeout: this.opts.keepAliveTimeoutMs ?? 5000,
      connectionsCheckingInterval: this.opts.timeoutCheckMs ?? 1000,
      maxHeaderSize: 8192,
    };
    const handler = (req: IncomingMessage, res: ServerResponse): void => this.handle(req, res);
    let server: Server;
    if (tls) {
      // the TLS handshake gets the header deadline too; a failed one never reaches handle()
      const https = createHttpsServer(
        { ...options, ...tls.secureOptions(), handshakeTimeout: headersTimeout },
        handler,
      );
      https.on('tlsClientError', (err, socket) => {
        this.opts.logger.debug({ err: err.message }, 'brokerlist tls handshake failed');
        socket.destroy(); // else a failed or too-slow handshake keeps its socket open
      });
      tls.use(https);
      server = https;
    } else {
      server = createServer(options, handler);
    }
    server.maxHeadersCount = this.opts.maxHeadersCount ?? 50;
    server.maxConnections = this.opts.maxConnections ?? 10_000;
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => this.clientError(err, socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.opts.logger.error({ err }, 'brokerlist server error'));
    this.servers.push(server);
    const bound = (server.address() as AddressInfo).port;
    const host = this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host;
    return `${tls ? 'https' : 'http'}://${host}:${bound}`;
  }

  /**
   * The cached body, rebuilt when older than maxAgeMs, or when a broker went draining or down
   * since it was built (a draining broker must not be offered for another second).
   */
  body(now = Date.now()): Buffer {
    if (!this.cache || now - this.cache.builtAt >= this.maxAgeMs) {
      this.cache = {
        body: Buffer.from(JSON.stringify(buildBrokerList(this.opts.directory, this.opts.version))),
        builtAt: now,
      };
    }
    return this.cache.body;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const origin = this.allowedOrigin(req);
    if (this.corsOrigins.size > 0) res.setHeader('vary', 'Origin');
    if (origin !== undefined) res.setHeader('access-control-allow-origin', origin);
    const known = LIST_PATHS.has(path) || path === '/health';
    if (!known) return this.reply(res, 404, 'text/plain', 'not found\n');
    if (
      req.method === 'OPTIONS' &&
      origin !== undefined &&
      req.headers['access-control-request-method'] !== undefined
    ) {
      res.writeHead(204, {
        'access-control-allow-methods': 'GET, HEAD',
        'access-control-allow-headers': CORS_ALLOW_HEADERS,
        'access-control-max-age': String(this.opts.corsMaxAgeSeconds ?? 600),
        'content-length': 0,
        'cache-control': 'no-store',
      });
      res.end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return this.reply(res, 405, 'text/plain', 'method not allowed\n');
    }
    if (path === '/health') return this.reply(res, 200, 'text/plain', 'ok');
    this.reply(res, 200, 'application/json', this.body(), req.method === 'HEAD');
  }

  /** The request's Origin when CORS allows it (the header is echoed, also for "*"); else undefined. */
  private allowedOrigin(req: IncomingMessage): string | undefined {
    const origin = req.headers.origin;
    if (typeof origin !== 'string' || origin.length === 0 || origin.length > 512) return undefined;
    return this.corsAny || this.corsOrigins.has(origin) ? origin : undefined;
  }

  private reply(res: ServerResponse, status: number, type: string, body: string | Buffer, headOnly = false): void {
    res.writeHead(status, {
      'content-type': type,
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
    });
    res.end(headOnly ? undefined : body);
  }

  /** Malformed, oversized or too-slow requests: a short status line if the socket can take it, then close. */
  private clientError(err: NodeJS.ErrnoException, socket: Socket): void {
    const status =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? '408 Request Timeout'
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? '431 Request Header Fields Too Large'
          : '400 Bad Request';
    this.opts.logger.debug({ err: err.message, code: err.code }, 'brokerlist client error');
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`, () => socket.destroy());
  }
}
