/**
 * The console's HTTP server: the page's files, and a small JSON API behind the admin credential
 * (auth.ts). Every answer is built from explicit fields (never a whole record), so no key, token
 * or hash can reach it.
 *
 *   GET  /, /assets/*          the page (no data in it; served to anyone)
 *   POST /api/login {token}    a console session cookie for the admin token; POST /api/logout
 *   GET  /api/cluster          every instance Yellow lists, with its rates (scraper.ts)
 *   GET  /api/series           per-method calls/s and p99 over recent minutes, for the charts
 *   POST /api/drain {instanceId, draining}   through Yellow
 *   GET  /api/session?q=       user id, username or session id -> sessions, broker, bindings, rooms
 *   GET  /api/tap?q=&rate=     the query tapped on every broker, merged: NDJSON until the page goes
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { NoonError } from '../shared/errors';
import type { Logger } from '../shared/log';
import { QueryError } from '../shared/query';
import { parseTapQuery } from '../shared/tap/record';
import type { Directory } from '../yellow/directory';
import type { Asset } from './assets';
import { ConsoleAuth, sameOriginJson } from './auth';
import type { ClusterScraper } from './scraper';
import { LookupError, type SessionLookup } from './sessions';
import { TapMerge } from './tap-merge';

/** request bodies (login, drain) are small */
const MAX_BODY = 4096;
/** console taps open at once; each holds one tap on every broker (a broker takes 8) */
export const MAX_CONSOLE_TAPS = 4;
export const DEFAULT_TAP_RATE = 50;
/** a page that reads slower than the calls come loses lines past this many bytes waiting */
const MAX_TAP_BUFFER = 1 << 20;
const KEEPALIVE_MS = 15_000;

export interface ConsoleServerOptions {
  host: string;
  port: number;
  adminToken: string;
  assets: Map<string, Asset>;
  directory: Directory;
  scraper: ClusterScraper;
  sessions: SessionLookup;
  drain: (instanceId: string, draining: boolean) => Promise<void>;
  logger: Logger;
  /** console session lifetime; default 12 h */
  sessionTtlMs?: number;
}

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res
    .writeHead(status, {
      ...SECURITY_HEADERS,
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      ...headers,
    })
    .end(`${JSON.stringify(body)}\n`);
}

class BadRequest extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const refused = sameOriginJson(req);
  if (refused !== undefined) throw new BadRequest(403, refused);
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new BadRequest(413, `a console request body is at most ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  try {
    const body: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (typeof body === 'object' && body !== null && !Array.isArray(body)) return body as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new BadRequest(400, 'the body is not a JSON object');
}

export class ConsoleServer {
  private server?: Server;
  private readonly auth: ConsoleAuth;
  private readonly taps = new Set<TapMerge>();
  private readonly sockets = new Set<Socket>();

  constructor(private readonly o: ConsoleServerOptions) {
    this.auth = new ConsoleAuth(o.adminToken, o.sessionTtlMs ?? 12 * 3600_000);
  }

  /** Listens; resolves with http://host:port. */
  async start(): Promise<string> {
    const server = createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => {
        if (err instanceof BadRequest) return json(res, err.status, { error: err.message });
        this.o.logger.error({ err, path: req.url }, 'console request failed');
        if (!res.headersSent) json(res, 500, { error: 'the console failed to answer; see its log' });
        else res.destroy();
      });
    });
    server.headersTimeout = 10_000;
    server.requestTimeout = 15_000;
    server.keepAliveTimeout = 5000;
    server.maxHeadersCount = 50;
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.port, this.o.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const a = server.address() as AddressInfo;
    return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  }

  async stop(): Promise<void> {
    for (const t of this.taps) t.close();
    this.taps.clear();
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://console');
    const path = url.pathname;
    const asset = req.method === 'GET' || req.method === 'HEAD' ? this.o.assets.get(path) : undefined;
    if (asset) {
      res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': asset.type, 'cache-control': 'no-cache' });
      res.end(req.method === 'HEAD' ? undefined : asset.body);
      return;
    }
    if (path === '/api/login' && req.method === 'POST') return this.login(req, res);
    if (!path.startsWith('/api/')) return json(res, 404, { error: `no such page: ${path}` });
    const verdict = this.auth.check(req);
    if (!verdict.ok) return json(res, verdict.status, { error: verdict.reason });
    const route = `${req.method ?? ''} ${path}`;
    switch (route) {
      case 'POST /api/logout':
        await readJson(req);
        return json(res, 200, { ok: true }, { 'set-cookie': this.auth.close(req) });
      case 'GET /api/cluster':
        return json(res, 200, this.o.scraper.cluster());
      case 'GET /api/series':
        return json(res, 200, this.o.scraper.series());
      case 'POST /api/drain':
        return this.drain(req, res);
      case 'GET /api/session':
        return this.session(url, res);
      case 'GET /api/tap':
        return this.tap(req, url, res);
    }
    return json(res, 404, { error: `no such endpoint: ${route}` });
  }

  private async login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJson(req);
    if (!this.auth.tokenMatches(body.token)) {
      this.o.logger.warn({ from: req.socket.remoteAddress }, 'console login refused');
      return json(res, 403, { error: 'that is not the admin token (NOON_ADMIN_TOKEN)' });
    }
    this.o.logger.info({ from: req.socket.remoteAddress }, 'console login');
    json(res, 200, { ok: true }, { 'set-cookie': this.auth.open(false) });
  }

  private async drain(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJson(req);
    const { instanceId, draining } = body;
    if (typeof instanceId !== 'string' || instanceId === '' || instanceId.length > 200)
      return json(res, 400, { error: 'instanceId must be an instance id from /api/cluster' });
    if (typeof draining !== 'boolean') return json(res, 400, { error: 'draining must be true or false' });
    try {
      await this.o.drain(instanceId, draining);
    } catch (err) {
      if (err instanceof NoonError && err.code === 'NOT_FOUND') return json(res, 404, { error: err.message });
      if (err instanceof NoonError && err.code === 'UNAVAILABLE') return json(res, 503, { error: err.message });
      throw err;
    }
    this.o.logger.info({ instanceId, draining, from: req.socket.remoteAddress }, 'drain set from the console');
    json(res, 200, { instanceId, draining });
  }

  private async session(url: URL, res: ServerResponse): Promise<void> {
    try {
      json(res, 200, await this.o.sessions.lookup(url.searchParams.get('q') ?? ''));
    } catch (err) {
      if (err instanceof LookupError) return json(res, 400, { error: err.message });
      throw err;
    }
  }

  private tap(req: IncomingMessage, url: URL, res: ServerResponse): void {
    const query = url.searchParams.get('q') ?? '';
    try {
      parseTapQuery(query);
    } catch (err) {
      if (err instanceof QueryError)
        return json(res, 400, { error: err.message, position: err.position, pointed: err.pointAt(query) });
      throw err;
    }
    const rateText = url.searchParams.get('rate');
    const rate = rateText === null ? DEFAULT_TAP_RATE : Number(rateText);
    if (!Number.isInteger(rate) || rate < 1 || rate > 1000)
      return json(res, 400, { error: `rate must be a whole number of calls/s from 1 to 1000, got ${rateText}` });
    if (this.taps.size >= MAX_CONSOLE_TAPS)
      return json(res, 429, { error: `${MAX_CONSOLE_TAPS} console taps are open already; close one first` });
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'application/x-ndjson; charset=utf-8',
      'cache-control': 'no-store',
    });
    let dropped = 0;
    let lastWrite = Date.now();
    const send = (line: unknown): void => {
      if (res.writableLength > MAX_TAP_BUFFER) {
        dropped++;
        return;
      }
      lastWrite = Date.now();
      res.write(`${JSON.stringify(line)}\n`);
    };
    const merge = new TapMerge({
      directory: this.o.directory,
      adminToken: this.o.adminToken,
      query,
      rate,
      logger: this.o.logger,
      onEvent: send,
    });
    this.taps.add(merge);
    const brokers = merge.start();
    send({ type: 'started', query, rate, brokers });
    const timer = setInterval(() => {
      if (dropped > 0) {
        send({ type: 'slow', dropped });
        dropped = 0;
      } else if (Date.now() - lastWrite >= KEEPALIVE_MS) send({ type: 'keepalive' });
    }, 1000);
    timer.unref();
    this.o.logger.info({ tap: query, rate, brokers, from: req.socket.remoteAddress }, 'console tap opened');
    res.on('close', () => {
      clearInterval(timer);
      merge.close();
      this.taps.delete(merge);
      this.o.logger.info({ tap: query }, 'console tap closed');
    });
  }
}
