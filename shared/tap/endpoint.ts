/**
 * GET /tap on a role's metrics port: attaches a tap for as long as the client reads, and streams
 * the matching calls as newline-delimited JSON (docs/tap.md has the contract). The tap is
 * detached when the client goes away or the role stops.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log';
import { QueryError } from '../query';
import { checkAdmin } from './admin-token';
import { MAX_TAPS, type Tap, type TapHub, type TapOptions } from './hub';
import { parseTapQuery, type TapQuery } from './record';

export const TAP_PATH = '/tap';
export const DEFAULT_RATE = 100;
export const MAX_RATE = 1000;
/** a line at least this often, so a reader (or a proxy) sees the stream is alive */
export const KEEPALIVE_MS = 15_000;
const DROPS_EVERY_MS = 1000;

export interface TapEndpointOptions {
  hub: TapHub;
  /** NOON_ADMIN_TOKEN (undefined: every request is refused) */
  adminToken: string | undefined;
  role: string;
  instanceId: string;
  logger: Logger;
}

function answer(res: ServerResponse, status: number, body: Record<string, unknown>): void {
  res
    .writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
    .end(`${JSON.stringify(body)}\n`);
}

class BadParam extends Error {}

function readOptions(params: URLSearchParams): TapOptions {
  const rateText = params.get('rate');
  const rate = rateText === null ? DEFAULT_RATE : Number(rateText);
  if (!Number.isInteger(rate) || rate < 1 || rate > MAX_RATE)
    throw new BadParam(
      `rate must be a whole number of records/s from 1 to ${MAX_RATE}, got ${JSON.stringify(rateText)}`,
    );
  const sampleText = params.get('sample');
  const sample = sampleText === null ? 1 : Number(sampleText);
  if (!(sample > 0 && sample <= 1))
    throw new BadParam(`sample must be a fraction above 0 and at most 1, got ${JSON.stringify(sampleText)}`);
  return { rate, sample };
}

export class TapEndpoint {
  private readonly open = new Map<Tap, ServerResponse>();

  constructor(private readonly o: TapEndpointOptions) {}

  /** The request handler for TAP_PATH. */
  handle(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET') return answer(res, 405, { error: 'the tap is GET /tap?q=<query>' });
    const admin = checkAdmin(req, this.o.adminToken);
    if (!admin.ok) return answer(res, admin.status, { error: admin.reason });
    const params = new URL(req.url ?? '/', 'http://tap').searchParams;
    const text = params.get('q') ?? '';
    let query: TapQuery;
    let options: TapOptions;
    try {
      query = parseTapQuery(text);
      options = readOptions(params);
    } catch (err) {
      if (err instanceof QueryError)
        return answer(res, 400, { error: err.message, position: err.position, pointed: err.pointAt(text) });
      if (err instanceof BadParam) return answer(res, 400, { error: err.message });
      throw err;
    }
    const tap = this.o.hub.attach(query, options, { write: (line) => res.write(line) });
    if (!tap) return answer(res, 429, { error: `${MAX_TAPS} taps are attached to this instance already` });
    this.open.set(tap, res);
    res.writeHead(200, {
      'content-type': 'application/x-ndjson; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    res.on('drain', () => tap.drained());
    const log = this.o.logger.child({ tap: query.text, from: req.socket.remoteAddress });
    log.info({ rate: options.rate, sample: options.sample }, 'tap attached');
    tap.send(
      `${JSON.stringify({
        type: 'attached',
        role: this.o.role,
        instance: this.o.instanceId,
        select: query.select ?? null,
        ...options,
      })}\n`,
    );
    let reported = JSON.stringify(tap.drops);
    let quietMs = 0;
    const timer = setInterval(() => {
      const drops = JSON.stringify(tap.drops);
      quietMs += DROPS_EVERY_MS;
      if (drops !== reported) {
        reported = drops;
        quietMs = 0;
        tap.send(`${JSON.stringify({ type: 'dropped', ...tap.drops })}\n`);
      } else if (quietMs >= KEEPALIVE_MS) {
        quietMs = 0;
        tap.send('{"type":"keepalive"}\n');
      }
    }, DROPS_EVERY_MS);
    timer.unref();
    res.on('close', () => {
      clearInterval(timer);
      this.open.delete(tap);
      this.o.hub.detach(tap);
      log.info({ sent: tap.sent, dropped: tap.drops }, 'tap detached');
    });
  }

  /** Ends every stream (the role is stopping), so the metrics server can close. */
  closeAll(): void {
    for (const [tap, res] of this.open) {
      tap.send('{"type":"end","reason":"the instance is stopping"}\n');
      res.end();
    }
  }
}
