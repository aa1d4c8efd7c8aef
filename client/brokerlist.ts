/**
 * BrokerList lookup: GET the list, validate it, pick a low-load broker. The answer is untrusted
 * (a proxy, a captive portal, a broken deploy): it is size-capped, time-boxed and checked field by
 * field, and anything unexpected is a clear BROKERLIST error rather than a half-parsed list.
 *
 * Over https:// the platform's fetch checks the certificate against the system store; the Node
 * SDK passes its own `fetch` when it is given a CA (transports.ts). A certificate problem is
 * named as such. No Node API in here: the browser build uses this file too.
 */
import { ClientError } from './errors';

export interface BrokerInfo {
  /** framed-Thrift TCP endpoint host:port */
  tcp?: string;
  /** WebSocket URL ws://host:port */
  ws?: string;
  /** framed Thrift over TLS, host:port */
  tls?: string;
  /** WebSocket over TLS, wss://host:port */
  wss?: string;
  /** 0 idle .. 1 full */
  load: number;
  instanceId?: string;
}

export interface FetchBrokersOptions {
  /** deadline for the whole request, body included; default 5000 ms */
  timeoutMs?: number;
  /** largest accepted body; default 1 MiB */
  maxBytes?: number;
  /** the fetch to use; default the platform's (globalThis.fetch) */
  fetch?: FetchLike;
}

/** The part of fetch() this file uses. */
export type FetchLike = (
  url: string,
  init: { signal: AbortSignal; headers: Record<string, string> },
) => Promise<Response>;

/** tcp and ws in plaintext; tls (framed Thrift over TLS) and wss their TLS twins. */
export type TransportKind = 'tcp' | 'ws' | 'tls' | 'wss';

export const TRANSPORT_KINDS: readonly TransportKind[] = ['tcp', 'ws', 'tls', 'wss'];

const HOST_PORT_RE = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})$/;
const WS_RE = /^wss?:\/\/[^\s]+$/;
const WSS_RE = /^wss:\/\/[^\s]+$/;

/** OpenSSL's and Node's codes for a certificate the client does not accept. */
const CERT_CODE_RE = /CERT|SELF_SIGNED|UNABLE_TO_(GET_ISSUER|VERIFY)|ERR_TLS_CERT_ALTNAME|HOSTNAME|DEPTH_ZERO/;

/**
 * "certificate not accepted (CODE: detail)" when `err` (or its cause, as fetch wraps it) is a
 * TLS certificate failure: untrusted issuer, wrong host name, expired. Undefined otherwise.
 */
export function certificateProblem(err: unknown): string | undefined {
  for (let e = err, depth = 0; typeof e === 'object' && e !== null && depth < 4; depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && CERT_CODE_RE.test(code))
      return `certificate not accepted (${code}: ${typeof message === 'string' ? message : ''})`;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The hint after a certificate problem. */
export const CA_HINT =
  "pass the cluster's CA certificate (PEM) as the `ca` option (`--ca <file>` for noon health and noon loadtest), or use a certificate the system store trusts";

function fail(url: string, problem: string, cause?: unknown, retryable?: boolean): ClientError {
  return new ClientError('BROKERLIST', `${url}: ${problem}`, {
    cause,
    ...(retryable !== undefined ? { retryable } : {}),
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkLoad(url: string, v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1)
    throw fail(url, `${where} must be a number 0..1, got ${JSON.stringify(v)}`);
  return v;
}

function optString(
  url: string,
  o: Record<string, unknown>,
  key: string,
  where: string,
  re?: RegExp,
): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > 256 || (re && !re.test(v)))
    throw fail(url, `${where}.${key} is not valid: ${JSON.stringify(v).slice(0, 80)}`);
  return v;
}

/** Validates a BrokerList JSON body; throws a BROKERLIST ClientError naming the bad field. */
export function parseBrokerList(url: string, body: unknown): BrokerInfo[] {
  if (!isObject(body)) throw fail(url, 'answer is not a JSON object');
  if (typeof body.version !== 'string') throw fail(url, 'answer has no "version" string');
  const list = body.brokerList;
  if (!isObject(list)) throw fail(url, 'answer has no "brokerList" object');
  const byTcp = new Map<string, BrokerInfo>();
  for (const [tcp, load] of Object.entries(list)) {
    if (!HOST_PORT_RE.test(tcp)) throw fail(url, `brokerList key ${JSON.stringify(tcp).slice(0, 80)} is not host:port`);
    byTcp.set(tcp, { tcp, load: checkLoad(url, load, `brokerList[${tcp}]`) });
  }
  const details = body.brokers;
  if (details === undefined) return [...byTcp.values()];
  if (!Array.isArray(details)) throw fail(url, '"brokers" is not an array');
  const out: BrokerInfo[] = [];
  details.forEach((d: unknown, i) => {
    const where = `brokers[${i}]`;
    if (!isObject(d)) throw fail(url, `${where} is not an object`);
    const tcp = optString(url, d, 'tcp', where, HOST_PORT_RE);
    const ws = optString(url, d, 'ws', where, WS_RE);
    const tls = optString(url, d, 'tls', where, HOST_PORT_RE);
    const wss = optString(url, d, 'wss', where, WSS_RE);
    const instanceId = optString(url, d, 'instanceId', where);
    const load = checkLoad(url, d.load ?? (tcp ? byTcp.get(tcp)?.load : undefined), `${where}.load`);
    if (tcp) byTcp.delete(tcp);
    if (tcp || ws || tls || wss)
      out.push({
        ...(tcp && { tcp }),
        ...(ws && { ws }),
        ...(tls && { tls }),
        ...(wss && { wss }),
        ...(instanceId && { instanceId }),
        load,
      });
  });
  // keys of brokerList without a detail entry still count (the original shape has only those)
  return [...out, ...byTcp.values()];
}

async function readCapped(url: string, res: Response, maxBytes: number): Promise<string> {
  const reader = res.body?.getReader();
  if (!reader) return '';
  // TextDecoder, not Buffer: this file is also the browser build's
  const decoder = new TextDecoder('utf-8');
  let text = '';
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw fail(url, `answer is larger than ${maxBytes} bytes`);
    }
    text += decoder.decode(value, { stream: true });
  }
  return text + decoder.decode();
}

/** GETs and validates the BrokerList. Rejects with a BROKERLIST ClientError on any problem. */
export async function fetchBrokers(url: string, opts: FetchBrokersOptions = {}): Promise<BrokerInfo[]> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  let text: string;
  const get = opts.fetch ?? ((u, init) => fetch(u, init));
  try {
    const res = await get(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
    if (res.status !== 200) {
      await res.body?.cancel();
      throw fail(url, `HTTP ${res.status}`);
    }
    text = await readCapped(url, res, opts.maxBytes ?? 1 << 20);
  } catch (err) {
    if (err instanceof ClientError) throw err;
    const name = (err as Error).name;
    const cert = certificateProblem(err);
    const cause = (err as { cause?: { message?: unknown } }).cause?.message;
    if (cert !== undefined) throw fail(url, `${cert}; ${CA_HINT}`, err, false);
    throw fail(
      url,
      name === 'TimeoutError' || name === 'AbortError'
        ? `no answer within ${timeoutMs} ms`
        : `request failed: ${(err as Error).message}${typeof cause === 'string' ? ` (${cause})` : ''}`,
      err,
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw fail(url, `answer is not JSON: ${JSON.stringify(text.slice(0, 60))}`, err);
  }
  return parseBrokerList(url, body);
}

/** The endpoint a broker offers for a transport, if any. */
export function endpointOf(b: BrokerInfo, transport: TransportKind): string | undefined {
  return b[transport];
}

/**
 * Brokers usable over `transport`, lowest load first (ties in list order). Brokers whose
 * endpoint is in `avoid` (e.g. the one that just died) go last, not away: if it is the only one,
 * trying it again beats giving up.
 */
export function rankBrokers(
  brokers: BrokerInfo[],
  transport: TransportKind,
  avoid: ReadonlySet<string> = new Set(),
  random?: () => number,
): BrokerInfo[] {
  const usable = brokers.filter((b) => endpointOf(b, transport) !== undefined);
  const avoided = (b: BrokerInfo): number => (avoid.has(endpointOf(b, transport) ?? '') ? 1 : 0);
  const ranked = usable
    .map((b, i) => ({ b, i }))
    .sort((x, y) => avoided(x.b) - avoided(y.b) || x.b.load - y.b.load || x.i - y.i)
    .map((x) => x.b);
  if (!random) return ranked;
  // Spread: the first choice is drawn in proportion to headroom, so thousands of clients that
  // reconnect at once with the same (already stale) loads split over the brokers instead of all
  // landing on the one that was least loaded a second ago. The rest stay in load order.
  const open = ranked.filter((b) => avoided(b) === 0);
  const weight = (b: BrokerInfo): number => Math.max(0.01, 1 - b.load) ** 2;
  let r = random() * open.reduce((sum, b) => sum + weight(b), 0);
  const first = open.find((b) => (r -= weight(b)) < 0) ?? open[open.length - 1];
  return first ? [first, ...ranked.filter((b) => b !== first)] : ranked;
}

/** The lowest-load broker for `transport`; undefined when none offers it. */
export function pickBroker(
  brokers: BrokerInfo[],
  transport: TransportKind = 'tcp',
  avoid?: ReadonlySet<string>,
): BrokerInfo | undefined {
  return rankBrokers(brokers, transport, avoid)[0];
}
