/**
 * The cluster's own view of the run: every broker's /metrics scraped before and after, reduced
 * to what a broker counts for client calls (noon_calls_total by method and outcome; refusals
 * that answer a call without forwarding it, in noon_dropped_total) and its calls in flight.
 * Broker metrics URLs come from Yellow (the registration's endpoints.metrics), or are given.
 */
import { request } from 'node:http';
import { silentLogger } from '../shared/log';
import { YellowClient } from '../yellow/client';
import { parsePrometheus, type Sample } from '../shared/prometheus';

/** noon_dropped_total reasons under which a broker answered a client call with an error instead of forwarding it. */
export const REFUSAL_REASONS = ['rate_limited', 'too_many_in_flight'] as const;

const MAX_BODY = 32 * 1024 * 1024;

export interface BrokerCounters {
  /** method → outcome → count */
  calls: Map<string, Map<string, number>>;
  refused: Map<string, number>;
  inFlight: number;
}

export { parsePrometheus };

export function emptyCounters(): BrokerCounters {
  return { calls: new Map(), refused: new Map(), inFlight: 0 };
}

/** Adds one broker's samples into `into`. */
export function addSamples(into: BrokerCounters, samples: Sample[]): BrokerCounters {
  for (const s of samples) {
    if (s.name === 'noon_calls_total') {
      const method = s.labels.method ?? '';
      const outcome = s.labels.outcome ?? '';
      const m = into.calls.get(method) ?? new Map<string, number>();
      m.set(outcome, (m.get(outcome) ?? 0) + s.value);
      into.calls.set(method, m);
    } else if (
      s.name === 'noon_dropped_total' &&
      (REFUSAL_REASONS as readonly string[]).includes(s.labels.reason ?? '')
    ) {
      const r = s.labels.reason as string;
      into.refused.set(r, (into.refused.get(r) ?? 0) + s.value);
    } else if (s.name === 'noon_in_flight') {
      into.inFlight += s.value;
    }
  }
  return into;
}

/** after − before, per method/outcome and per refusal reason (zeros left out). */
export function diffCounters(before: BrokerCounters, after: BrokerCounters): BrokerCounters {
  const out = emptyCounters();
  for (const [method, outcomes] of after.calls) {
    for (const [outcome, n] of outcomes) {
      const d = n - (before.calls.get(method)?.get(outcome) ?? 0);
      if (d === 0) continue;
      const m = out.calls.get(method) ?? new Map<string, number>();
      m.set(outcome, d);
      out.calls.set(method, m);
    }
  }
  for (const [r, n] of after.refused) {
    const d = n - (before.refused.get(r) ?? 0);
    if (d !== 0) out.refused.set(r, d);
  }
  out.inFlight = after.inFlight;
  return out;
}

export function totalCalls(c: BrokerCounters): number {
  let n = 0;
  for (const m of c.calls.values()) for (const v of m.values()) n += v;
  for (const v of c.refused.values()) n += v;
  return n;
}

/** GET with a deadline and a body cap. */
export function httpGet(url: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', timeout: timeoutMs }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`${url}: HTTP ${res.statusCode}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) req.destroy(new Error(`${url}: body over ${MAX_BODY} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Every broker's metrics URL as Yellow knows it (all brokers: a client may reconnect to any). */
export async function brokerMetricsUrls(
  yellow: string[],
  timeoutMs = 3000,
): Promise<{ instanceId: string; url: string }[]> {
  const client = new YellowClient({
    endpoints: yellow,
    heartbeatMs: 1000,
    logger: silentLogger(),
    queryTimeoutMs: timeoutMs,
  });
  try {
    const records = await client.query({ role: 'broker' });
    return records.flatMap((r) =>
      r.endpoints.metrics ? [{ instanceId: r.instanceId, url: r.endpoints.metrics }] : [],
    );
  } finally {
    await client.stop();
  }
}

/** Scrapes every URL and sums the brokers' counters; a broker that does not answer fails the scrape. */
export async function scrapeBrokers(urls: string[]): Promise<BrokerCounters> {
  const texts = await Promise.all(urls.map((u) => httpGet(u)));
  const into = emptyCounters();
  for (const t of texts) addSamples(into, parsePrometheus(t));
  return into;
}

/**
 * After the run: scrapes until the brokers counted at least `expected` calls since `before`, at
 * most `deadlineMs` (a call the client gave up on is counted by the broker only when its own
 * deadline ends it, or never if it was lost on the wire). Returns the last scrape.
 */
export async function scrapeSettled(
  urls: string[],
  before: BrokerCounters,
  expected: number,
  deadlineMs: number,
  pollMs = 200,
): Promise<BrokerCounters> {
  const end = Date.now() + deadlineMs;
  let c = await scrapeBrokers(urls);
  for (let i = 0; i < 100_000 && totalCalls(diffCounters(before, c)) < expected && Date.now() < end; i++) {
    await new Promise((r) => setTimeout(r, pollMs));
    c = await scrapeBrokers(urls);
  }
  return c;
}
