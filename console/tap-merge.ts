/**
 * One console tap: the query attached to every broker Yellow lists (GET /tap on its metrics
 * port, with the admin token) and to brokers that register later, their NDJSON streams merged
 * into one sequence of events for the page. Closing aborts every stream, which detaches the
 * brokers' taps.
 */
import type { Logger } from '../shared/log';
import type { Directory } from '../yellow/directory';
import type { InstanceRecord } from '../yellow/types';

/** What the page receives: a call, an instance's note (attached, dropped counts, ended, refused). */
export type TapEvent =
  | { type: 'call'; from: string; call: Record<string, unknown> }
  | { type: 'attached'; from: string }
  | { type: 'dropped'; from: string; rate: number; queue: number; overflow: number }
  | { type: 'end'; from: string; reason: string }
  | { type: 'refused'; from: string; status: number; error: string };

export interface TapMergeOptions {
  directory: Directory;
  adminToken: string;
  query: string;
  /** records per second per broker */
  rate: number;
  logger: Logger;
  onEvent: (ev: TapEvent) => void;
}

/** The tap URL of an instance, next to its registered /metrics. */
export function tapUrl(metricsUrl: string, query: string, rate: number): string {
  const url = new URL('/tap', metricsUrl);
  url.searchParams.set('q', query);
  url.searchParams.set('rate', String(rate));
  return url.toString();
}

export class TapMerge {
  private readonly aborts = new Map<string, AbortController>();
  private closed = false;
  private readonly onUp = (r: InstanceRecord): void => void this.attach(r);

  constructor(private readonly o: TapMergeOptions) {}

  /** Attaches to every broker now, and to each one that comes up until close(). */
  start(): number {
    const brokers = this.o.directory.instances({ role: 'broker', includeDraining: true });
    this.o.directory.on('up', this.onUp);
    for (const r of brokers) void this.attach(r);
    return brokers.length;
  }

  close(): void {
    this.closed = true;
    this.o.directory.off('up', this.onUp);
    for (const a of this.aborts.values()) a.abort();
    this.aborts.clear();
  }

  private async attach(r: InstanceRecord): Promise<void> {
    if (this.closed || r.role !== 'broker' || r.endpoints.metrics === undefined || this.aborts.has(r.instanceId))
      return;
    const abort = new AbortController();
    this.aborts.set(r.instanceId, abort);
    const from = r.instanceId;
    try {
      const res = await fetch(tapUrl(r.endpoints.metrics, this.o.query, this.o.rate), {
        headers: { authorization: `Bearer ${this.o.adminToken}` },
        signal: abort.signal,
      });
      if (res.status !== 200 || !res.body) {
        const body = (await res.json().catch(() => ({}))) as { error?: unknown };
        const error = typeof body.error === 'string' ? body.error : `HTTP ${res.status}`;
        this.o.onEvent({ type: 'refused', from, status: res.status, error });
        return;
      }
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let rest = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        rest += decoder.decode(value, { stream: true });
        let nl: number;
        while ((nl = rest.indexOf('\n')) >= 0) {
          const text = rest.slice(0, nl);
          rest = rest.slice(nl + 1);
          if (text.trim() !== '') this.forward(from, JSON.parse(text) as Record<string, unknown>);
        }
      }
    } catch (err) {
      if (!abort.signal.aborted) this.o.logger.debug({ err: (err as Error).message, from }, 'tap stream ended');
    } finally {
      if (this.aborts.get(from) === abort) this.aborts.delete(from);
    }
  }

  private forward(from: string, line: Record<string, unknown>): void {
    if (this.closed) return;
    const { onEvent } = this.o;
    if (line.type === 'call') onEvent({ type: 'call', from, call: (line.call ?? {}) as Record<string, unknown> });
    else if (line.type === 'attached') onEvent({ type: 'attached', from });
    else if (line.type === 'dropped')
      onEvent({
        type: 'dropped',
        from,
        rate: Number(line.rate),
        queue: Number(line.queue),
        overflow: Number(line.overflow),
      });
    else if (line.type === 'end') onEvent({ type: 'end', from, reason: String(line.reason) });
  }
}
