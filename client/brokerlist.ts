/**
 * BrokerList lookup: GET the list, validate it, pick a low-load broker. The answer is untrusted
 * (a proxy, a captive portal, a broken deploy): it is size-capped, time-boxed and checked field by
 * field, and anything unexpected is a clear BROKERLIST error rather than a half-parsed list.
 */
import { ClientError } from './errors';

export interface BrokerInfo {
  /** framed-Thrift TCP endpoint host:port */
  tcp?: string;
  /** WebSocket URL ws://host:port */
  ws?: string;
  /** 0 idle .. 1 full */
  load: number;
  instanceId?: string;
}

export interface FetchBrokersOptions {
  /** deadline for the whole request, body included; default 5000 ms */
  timeoutMs?: number;
  /** largest accepted body; default 1 MiB */
  maxBytes?: number;
}

export type TransportKind = 'tcp' | 'ws';

const HOST_PORT_RE = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})$/;
const WS_RE = /^wss?:\/\/[^\s]+$/;

function fail(url: string, problem: string, cause?: unknown): ClientError {
  return new ClientError('BROKERLIST', `${url}: ${problem}`, { cause });
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
    const instanceId = optString(url, d, 'instanceId', where);
    const load = checkLoad(url, d.load ?? (tcp ? byTcp.get(tcp)?.load : undefined), `${where}.load`);
    if (tcp) byTcp.delete(tcp);
    if (tcp || ws) out.push({ ...(tcp && { tcp }), ...(ws && { ws }), ...(instanceId && { instanceId }), load });
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
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
    if (res.status !== 200) {
      await res.body?.cancel();
      throw fail(url, `HTTP ${res.status}`);
    }
    text = await readCapped(url, res, opts.maxBytes ?? 1 << 20);
  } catch (err) {
    if (err instanceof ClientError) throw err;
    const name = (err as Error).name;
    throw fail(
      url,
      name === 'TimeoutError' || name === 'AbortError'
        ? `no answer within ${timeoutMs} ms`
        : `request failed: ${(err as Error).message}`,
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
  return transport === 'tcp' ? b.tcp : b.ws;
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
): BrokerInfo[] {
  const usable = brokers.filter((b) => endpointOf(b, transport) !== undefined);
  const avoided = (b: BrokerInfo): number => (avoid.has(endpointOf(b, transport) ?? '') ? 1 : 0);
  return usable
    .map((b, i) => ({ b, i }))
    .sort((x, y) => avoided(x.b) - avoided(y.b) || x.b.load - y.b.load || x.i - y.i)
    .map((x) => x.b);
}

/** The lowest-load broker for `transport`; undefined when none offers it. */
export function pickBroker(
  brokers: BrokerInfo[],
  transport: TransportKind = 'tcp',
  avoid?: ReadonlySet<string>,
): BrokerInfo | undefined {
  return rankBrokers(brokers, transport, avoid)[0];
}
