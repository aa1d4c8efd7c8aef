/**
 * The SDK's side of channels (docs/channels.md): `client.channels.subscribe(channel, handler,
 * { filter })` hands the handler each message of the channel that matches the filter, once, in
 * seq order. The broker evaluates the filter and tells this client of seqs that never reached it
 * (`channelGap`); the tracker then reads them from history with the same filter, holding the
 * messages after the gap until it is filled:
 *
 * - a message at or below the last seq accounted for is a duplicate and is dropped;
 * - after a subscribe, history is read from the subscription's lastSeq once more after
 *   `settleMs`, for a message sent while the new subscription was on its way to the publishers;
 * - after a resume, every channel is subscribed again and caught up from its last seq.
 *
 * Attributes go out typed: a string is text, a bigint or an integral number an integer, another
 * number a real, a boolean a flag; they come back as string, number (or bigint past 2^53) and boolean.
 */
import Int64 from 'node-int64';
import { ChannelValue, type ChannelMessage, type ChannelPage, type Channels } from '../shared/protocol';

export type AttributeValue = string | number | boolean | bigint;
export type Attributes = Readonly<Record<string, AttributeValue>>;

export interface ChannelEvent<A extends Attributes = Attributes> {
  channel: string;
  seq: number;
  attributes: A;
  payload: Buffer;
  /** the publishing user's id, or "service" */
  publisher: string;
  sentAtMs: number;
}

export interface ChannelSubscribeOptions {
  /** the filter the broker applies (docs/query.md), e.g. `region = 'eu' AND level >= 10`; '' = all */
  filter?: string;
}

export interface ChannelHandle {
  readonly channel: string;
  readonly filter: string;
  /** the last seq accounted for (delivered, or filtered out by the broker) */
  readonly lastSeq: number;
  unsubscribe(): Promise<void>;
}

export interface ChannelsOptions {
  /** history page size; default 200 (the server's most) */
  pageSize?: number;
  /** the second catch-up after a subscribe or resume; default 1000 ms */
  settleMs?: number;
  logger?: { warn(obj: object, msg: string): void };
}

interface Tracked {
  filter: string;
  handler: (m: ChannelEvent) => void;
  /** the last seq accounted for; undefined until the subscribe answered */
  last?: number;
  /** history must be read at least up to this seq before messages past it are delivered */
  needTo: number;
  held: Map<number, ChannelMessage>;
  syncing: boolean;
  again: boolean;
}

const seqOf = (m: { seq?: unknown }): number => Number(String(m.seq));
const SYNC_ATTEMPTS = 5;

function toValue(v: AttributeValue): ChannelValue {
  if (typeof v === 'string') return new ChannelValue({ text: v });
  if (typeof v === 'boolean') return new ChannelValue({ flag: v });
  if (typeof v === 'bigint') return new ChannelValue({ integer: new Int64(Number(v >> 32n), Number(v & 0xffffffffn)) });
  return Number.isSafeInteger(v) ? new ChannelValue({ integer: v }) : new ChannelValue({ real: v });
}

function fromValue(v: ChannelValue): AttributeValue | undefined {
  if (v.text != null) return v.text;
  // an Int64 as decoded, or a bigint once the client's i64 mode converted the push
  const integer = v.integer as Int64 | bigint | undefined;
  if (integer != null) {
    const big = typeof integer === 'bigint' ? integer : BigInt.asIntN(64, BigInt(`0x${integer.toOctetString('')}`));
    return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
  }
  return v.real ?? v.flag ?? undefined;
}

export function toAttributes(a: Attributes): Map<string, ChannelValue> {
  return new Map(Object.entries(a).map(([k, v]) => [k, toValue(v)]));
}

export function toEvent<A extends Attributes>(m: ChannelMessage): ChannelEvent<A> {
  const attributes: Record<string, AttributeValue> = {};
  for (const [k, v] of m.attributes ?? []) {
    const value = fromValue(v);
    if (value !== undefined) attributes[k] = value;
  }
  return {
    channel: m.channel ?? '',
    seq: seqOf(m),
    attributes: attributes as A,
    payload: m.payload ?? Buffer.alloc(0),
    publisher: m.publisher ?? '',
    sentAtMs: Number(String(m.sentAtMs ?? 0)),
  };
}

export class ChannelTracker {
  private readonly tracked = new Map<string, Tracked>();
  /** duplicates dropped, gaps repaired from history (for tests and diagnostics) */
  readonly stats = { duplicates: 0, repairs: 0 };

  constructor(
    /** the generated Channels client, i64s as Int64 */
    private readonly api: Channels.Client,
    private readonly opts: ChannelsOptions = {},
    /** a channel message of a channel not subscribed through this tracker */
    private readonly passThrough?: (m: ChannelMessage) => void,
  ) {}

  /** Subscribes (a second call for one channel replaces its filter and handler) once the broker took it. */
  async subscribe<A extends Attributes = Attributes>(
    channel: string,
    handler: (m: ChannelEvent<A>) => void,
    options: ChannelSubscribeOptions = {},
  ): Promise<ChannelHandle> {
    const filter = options.filter ?? '';
    const existing = this.tracked.get(channel);
    const t: Tracked = existing ?? {
      filter,
      handler: () => {},
      needTo: 0,
      held: new Map(),
      syncing: false,
      again: false,
    };
    t.filter = filter;
    t.handler = handler as (m: ChannelEvent) => void;
    this.tracked.set(channel, t);
    await this.take(channel, t, !existing);
    const tracker = this.tracked;
    return {
      channel,
      filter,
      get lastSeq() {
        return tracker.get(channel)?.last ?? 0;
      },
      unsubscribe: () => this.unsubscribe(channel),
    };
  }

  async unsubscribe(channel: string): Promise<void> {
    this.tracked.delete(channel);
    await this.api.unsubscribe(channel);
  }

  publish(
    channel: string,
    attributes: Attributes = {},
    payload: Buffer | string = Buffer.alloc(0),
  ): Promise<ChannelMessage> {
    return this.api.publish(
      channel,
      toAttributes(attributes),
      typeof payload === 'string' ? Buffer.from(payload) : payload,
    );
  }

  lastSeq(channel: string): number | undefined {
    return this.tracked.get(channel)?.last;
  }

  /** A channelMessage push. */
  onMessage(m: ChannelMessage): void {
    const t = m.channel === undefined ? undefined : this.tracked.get(m.channel);
    if (!t) {
      this.passThrough?.(m);
      return;
    }
    const seq = seqOf(m);
    if ((t.last !== undefined && seq <= t.last) || t.held.has(seq)) {
      this.stats.duplicates++;
      return;
    }
    t.held.set(seq, m);
    this.flush(m.channel as string, t);
  }

  /** A channelGap push: seqs from..to never reached the broker. */
  onGap(channel: string, _fromSeq: number, toSeq: number): void {
    const t = this.tracked.get(channel);
    if (!t || (t.last !== undefined && toSeq <= t.last)) return;
    t.needTo = Math.max(t.needTo, toSeq);
    this.stats.repairs++;
    this.sync(channel, t);
  }

  /** The broker ended a subscription (channelClosed): it is no longer tracked. */
  onClosed(channel: string): void {
    this.tracked.delete(channel);
  }

  /** After a resume: the new broker has no subscriptions of this client; make them again. */
  resumed(): void {
    for (const [channel, t] of this.tracked) {
      if (t.last === undefined) continue;
      this.take(channel, t, false).catch((err: unknown) =>
        this.opts.logger?.warn({ err, channel }, 'noon client could not subscribe to a channel again after a resume'),
      );
    }
  }

  forget(): void {
    this.tracked.clear();
  }

  private async take(channel: string, t: Tracked, first: boolean): Promise<void> {
    let sub;
    try {
      sub = await this.api.subscribe(channel, t.filter);
    } catch (err) {
      if (first && this.tracked.get(channel) === t) this.tracked.delete(channel);
      throw err;
    }
    const lastSeq = seqOf({ seq: sub.lastSeq ?? 0 });
    // A first subscription starts at the channel's last seq; a renewed one keeps its place.
    if (t.last === undefined) t.last = lastSeq;
    else t.needTo = Math.max(t.needTo, lastSeq);
    this.flush(channel, t);
    this.sync(channel, t);
    setTimeout(() => {
      if (this.tracked.get(channel) === t) this.sync(channel, t);
    }, this.opts.settleMs ?? 1000).unref?.();
  }

  /** Delivers the held messages in seq order, unless history must be read before them. */
  private flush(channel: string, t: Tracked): void {
    if (t.last === undefined) return;
    for (const seq of [...t.held.keys()].sort((a, b) => a - b)) {
      if (seq <= t.last) {
        t.held.delete(seq);
        continue;
      }
      if (t.needTo > t.last) return;
      const m = t.held.get(seq) as ChannelMessage;
      t.held.delete(seq);
      t.last = seq;
      if (this.tracked.get(channel) !== t) return; // the handler unsubscribed
      this.emit(channel, t, m);
    }
  }

  private emit(channel: string, t: Tracked, m: ChannelMessage): void {
    try {
      t.handler(toEvent(m));
    } catch (err) {
      this.opts.logger?.warn({ err, channel }, 'noon client channel handler threw');
    }
  }

  private sync(channel: string, t: Tracked): void {
    if (t.syncing) {
      t.again = true;
      return;
    }
    t.syncing = true;
    void this.syncLoop(channel, t).finally(() => {
      t.syncing = false;
      if (t.again && this.tracked.get(channel) === t) {
        t.again = false;
        this.sync(channel, t);
      }
    });
  }

  /** Reads history with the filter from the last seq until it has read what the channel had. */
  private async syncLoop(channel: string, t: Tracked): Promise<void> {
    const limit = this.opts.pageSize ?? 200;
    let failures = 0;
    while (this.tracked.get(channel) === t && t.last !== undefined) {
      t.again = false;
      let page: ChannelPage;
      try {
        page = await this.api.history(channel, new Int64(t.last), limit, t.filter);
      } catch (err) {
        if (++failures >= SYNC_ATTEMPTS) {
          this.opts.logger?.warn(
            { err, channel },
            'noon client could not read channel history; retrying at the next gap',
          );
          return;
        }
        await new Promise((r) => setTimeout(r, 100 * failures));
        continue;
      }
      if (this.tracked.get(channel) !== t || t.last === undefined) return;
      const scannedTo = seqOf({ seq: page.scannedTo ?? 0 });
      for (const m of page.messages ?? []) {
        const seq = seqOf(m);
        if (seq <= t.last) continue;
        t.held.delete(seq);
        t.last = seq;
        this.emit(channel, t, m);
        if (this.tracked.get(channel) !== t) return;
      }
      t.last = Math.max(t.last, scannedTo);
      this.flush(channel, t);
      if (scannedTo >= Math.max(t.needTo, seqOf({ seq: page.lastSeq ?? 0 }))) return;
    }
  }
}
