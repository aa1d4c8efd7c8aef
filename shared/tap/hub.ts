/**
 * The taps attached to one role. The hot path asks `active` (one boolean) and, only when a tap is
 * attached, hands over what it already knows of a finished call (`offer`, after the reply was
 * sent). Everything else happens later, in one batch per event-loop turn: records built, each
 * tap's filter, sampling and rate cap, the arguments decoded for a tap that selected them, and
 * the lines queued for its reader. What does not fit is dropped and counted, never waited for.
 */
import { replyOutcome } from '../thrift/reply-outcome';
import { decodeArgs } from './args';
import { BoundedQueue, RateCap, Sampler } from './bounds';
import type { CallRecord, TapQuery } from './record';

/** Finished calls waiting for the next batch; more in one turn are dropped (counted). */
export const MAX_PENDING = 4096;
/** Lines a slow reader may have waiting before the tap drops new ones. */
export const MAX_QUEUED_LINES = 500;
/** Taps one role serves at once. */
export const MAX_TAPS = 8;

/** A finished call as the hot path hands it over: the record, and the request for its arguments. */
export interface OfferedCall {
  record: CallRecord;
  /** the client's Thrift message (kept only until the batch runs) */
  payload: Buffer;
  /** the reply's Thrift message when the outcome is still to be read from it (in the batch) */
  reply?: Buffer;
}

/** Where a tap's lines go: `write` says false when the reader is full (then `onDrain` is awaited). */
export interface TapSink {
  write(line: string): boolean;
}

export interface TapOptions {
  /** records per second at most (a token bucket, burst = one second) */
  rate: number;
  /** the fraction of matching calls kept, in (0, 1] */
  sample: number;
}

/** Why a tap let a matching call go: counted per tap and in noon_dropped_total{reason="tap"}. */
export interface TapDrops {
  /** over the rate cap */
  rate: number;
  /** the reader was too slow: its queue was full */
  queue: number;
  /** too many calls finished in one turn (shared by every tap) */
  overflow: number;
}

export class Tap {
  readonly drops: TapDrops = { rate: 0, queue: 0, overflow: 0 };
  /** matching calls that passed sampling and the cap (written or queued for the reader) */
  sent = 0;
  private readonly cap: RateCap;
  private readonly sampler: Sampler;
  private readonly waiting = new BoundedQueue<string>(MAX_QUEUED_LINES);
  private blocked = false;
  /** drops not yet added to the drop counter (the hub adds them once per batch, not per record) */
  private unreported = 0;
  closed = false;

  constructor(
    readonly query: TapQuery,
    readonly options: TapOptions,
    private readonly sink: TapSink,
  ) {
    this.cap = new RateCap(options.rate);
    this.sampler = new Sampler(options.sample);
  }

  /** One finished call: filtered, sampled, capped, then written or queued. */
  consider(call: OfferedCall, now: number): void {
    if (this.closed || !this.query.compiled.matches(call.record as unknown as Record<string, unknown>)) return;
    if (!this.sampler.keep()) return;
    if (!this.cap.take(now)) {
      this.drops.rate++;
      this.unreported++;
      return;
    }
    this.sent++;
    const row = this.query.compiled.project(call.record as unknown as Record<string, unknown>);
    if (this.query.wantsArgs) row.args = decodeArgs(call.record.method, call.payload);
    this.send(`${JSON.stringify({ type: 'call', call: row })}\n`);
  }

  /** A line of the tap's own (attached, drops): written or queued like a record, never counted. */
  send(line: string): void {
    if (this.closed) return;
    if (this.blocked) {
      if (this.waiting.push(line)) return;
      this.drops.queue++;
      this.unreported++;
      return;
    }
    if (!this.sink.write(line)) this.blocked = true;
  }

  /** The reader took what it had: write what waited, until it is full again. */
  drained(): void {
    this.blocked = false;
    for (let line = this.waiting.shift(); line !== undefined; line = this.waiting.shift()) {
      if (!this.sink.write(line)) {
        this.blocked = true;
        return;
      }
    }
  }

  noteOverflow(count: number): void {
    this.drops.overflow += count;
    this.unreported += count;
  }

  /** Drops since the last call, for the drop counter. */
  takeUnreported(): number {
    const n = this.unreported;
    this.unreported = 0;
    return n;
  }

  close(): void {
    this.closed = true;
    this.waiting.clear();
  }
}

export class TapHub {
  private readonly taps = new Set<Tap>();
  private pending: OfferedCall[] = [];
  private overflow = 0;
  private scheduled = false;
  /** The hot path's one check: false whenever no tap is attached. */
  active = false;

  constructor(
    /** counts every record a tap dropped (noon_dropped_total{reason="tap"}) */
    private readonly onDrop: (count: number) => void = () => undefined,
  ) {}

  get size(): number {
    return this.taps.size;
  }

  /** Attaches a tap; undefined when MAX_TAPS are attached already. */
  attach(query: TapQuery, options: TapOptions, sink: TapSink): Tap | undefined {
    if (this.taps.size >= MAX_TAPS) return undefined;
    const tap = new Tap(query, options, sink);
    this.taps.add(tap);
    this.active = true;
    return tap;
  }

  detach(tap: Tap): void {
    const dropped = tap.takeUnreported();
    if (dropped > 0) this.onDrop(dropped);
    tap.close();
    this.taps.delete(tap);
    this.active = this.taps.size > 0;
    if (!this.active) {
      this.pending = [];
      this.overflow = 0;
    }
  }

  /** A finished call, from the hot path (only while `active`). Never throws, never waits. */
  offer(call: OfferedCall): void {
    if (this.pending.length >= MAX_PENDING) {
      this.overflow++;
    } else {
      this.pending.push(call);
    }
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    const overflow = this.overflow;
    this.pending = [];
    this.overflow = 0;
    const now = Date.now();
    let dropped = 0;
    for (const tap of this.taps) {
      if (overflow > 0) tap.noteOverflow(overflow);
      for (const call of batch) {
        try {
          if (call.reply) {
            call.record.outcome = replyOutcome(call.reply);
            delete call.reply;
          }
          tap.consider(call, now);
        } catch {
          // a record a filter cannot read is that tap's loss, never the next tap's
        }
      }
      dropped += tap.takeUnreported();
    }
    if (dropped > 0) this.onDrop(dropped);
  }

  /** Closes every tap (the role is stopping). */
  closeAll(): Tap[] {
    const all = [...this.taps];
    for (const tap of all) this.detach(tap);
    return all;
  }
}
