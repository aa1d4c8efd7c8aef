/**
 * Keeps a Directory current from every configured Yellow by following its deltas.
 *
 * Per Yellow: one SUB on its PUB (learned with `hello`) and a FeedCursor. A full `query`
 * (a resync) happens only when needed: at start, when the cursor sees a version gap or a
 * restarted Yellow, when the SUB has heard nothing (not even a `tick`) for three intervals, while
 * the Yellow is warming up or predates versions (then every interval, as polling did), and as a
 * safety net every `resyncMs`. Otherwise the cost per interval is one small `tick` per Yellow,
 * whatever the size of the table.
 */
import * as zmq from 'zeromq';
import { curveClientOptions, yellowKeyOf, type CurveKeys } from '../shared/curve';
import type { Logger } from '../shared/log';
import { Directory } from './directory';
import { FeedCursor } from './feed';
import type { YellowLink } from './link';
import type { YellowEvent } from './types';
import { decodeEvent, EVENT_TOPIC, MAX_EVENT_BYTES } from './wire';

export interface WatcherOptions {
  links: YellowLink[];
  heartbeatMs: number;
  queryTimeoutMs: number;
  /** every Yellow is resynced at least this often, whatever its deltas say */
  resyncMs: number;
  logger: Logger;
  curve?: CurveKeys;
  /** test seam: an event for which this returns true is dropped, as if the SUB had lost it */
  dropEvent?: (ev: YellowEvent) => boolean;
}

/** What a watcher did since it started: for tests, the bench and logs. */
export interface WatcherStats {
  resyncs: number;
  /** resyncs asked for by a version gap */
  gaps: number;
  /** resyncs asked for by a restarted Yellow */
  restarts: number;
  events: number;
  /** bytes received on the SUBs */
  eventBytes: number;
}

type Reason = 'start' | 'gap' | 'restart' | 'silent' | 'poll' | 'periodic';
/** Reasons after which the PUB endpoint may have moved: ask `hello` before the query. */
const REHELLO: ReadonlySet<Reason> = new Set<Reason>(['start', 'restart', 'silent']);
/** Intervals without any event (ticks come every interval) before a SUB counts as silent. */
const SILENT_INTERVALS = 3;

class YellowFeed {
  readonly cursor = new FeedCursor();
  pub?: string;
  lastHeard = 0;
  lastResync = 0;
  due: Reason | undefined = 'start';
  syncing = false;
  /** the last answer was from a warming-up Yellow, or one without versions: resync every interval */
  pollEvery = false;
  loop?: Promise<void>;

  constructor(
    readonly link: YellowLink,
    readonly sub: zmq.Subscriber,
  ) {}
}

export class Watcher {
  readonly directory = new Directory();
  readonly stats: WatcherStats = { resyncs: 0, gaps: 0, restarts: 0, events: 0, eventBytes: 0 };
  private readonly feeds: YellowFeed[];
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly opts: WatcherOptions) {
    this.feeds = opts.links.map((link) => {
      const sub = new zmq.Subscriber({
        linger: 0,
        receiveHighWaterMark: 10_000,
        maxMessageSize: MAX_EVENT_BYTES,
        reconnectInterval: 100,
        reconnectMaxInterval: 2000,
        ...curveClientOptions(opts.curve, opts.curve ? yellowKeyOf(opts.curve) : undefined),
      });
      sub.subscribe(EVENT_TOPIC);
      return new YellowFeed(link, sub);
    });
  }

  /** Runs the first resync of every Yellow (so the table starts filled when any answers), then keeps following. */
  async start(): Promise<void> {
    this.feeds.forEach((feed, i) => (feed.loop = this.receiveLoop(feed, i)));
    await Promise.all(this.feeds.map((_, i) => this.sync(i)));
    if (!this.stopped) this.timer = setInterval(() => this.check(), this.opts.heartbeatMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const feed of this.feeds) if (!feed.sub.closed) feed.sub.close();
    await Promise.all(this.feeds.map((f) => f.loop));
  }

  /** Once per interval: starts the resyncs that are due. */
  private check(): void {
    const now = Date.now();
    this.feeds.forEach((feed, i) => {
      if (feed.syncing) return;
      if (feed.pollEvery) feed.due ??= 'poll';
      if (now - feed.lastHeard > SILENT_INTERVALS * this.opts.heartbeatMs) feed.due ??= 'silent';
      if (now - feed.lastResync >= this.opts.resyncMs) feed.due ??= 'periodic';
      if (feed.due) void this.sync(i);
    });
  }

  private requestResync(i: number, reason: Reason): void {
    const feed = this.feeds[i];
    if (!feed || this.stopped) return;
    if (reason === 'gap') this.stats.gaps++;
    if (reason === 'restart') this.stats.restarts++;
    feed.due ??= reason;
    if (!feed.syncing) void this.sync(i);
  }

  /** One resync of Yellow i: `hello` if its PUB may have moved, then a full query merged as its view. */
  private async sync(i: number): Promise<void> {
    const feed = this.feeds[i];
    if (!feed || feed.syncing || this.stopped) return;
    const reason = feed.due ?? 'periodic';
    feed.due = undefined;
    feed.syncing = true;
    const { link } = feed;
    try {
      if (!feed.pub || REHELLO.has(reason)) await this.hello(feed);
      feed.cursor.beginResync();
      const answer = await link.request<'query'>({ op: 'query' }, this.opts.queryTimeoutMs, 'watch-query');
      if (this.stopped) return;
      const now = Date.now();
      this.directory.resync(i, answer, now);
      const { replay, gap } = feed.cursor.endResync(answer.version, answer.startedAt);
      for (const ev of replay) this.directory.apply(ev, now, i);
      if (gap) feed.due ??= 'gap';
      feed.pollEvery = answer.warmingUp || answer.version < 0;
      feed.lastResync = now;
      // A SUB that just (re)connected has had no chance to hear a tick yet.
      feed.lastHeard = Math.max(feed.lastHeard, now);
      this.stats.resyncs++;
    } catch (e) {
      feed.cursor.abortResync();
      feed.due ??= reason;
      this.opts.logger.debug({ err: e, yellow: link.endpoint, reason }, 'yellow resync failed');
    } finally {
      feed.syncing = false;
    }
  }

  /** (Re)learns a Yellow's PUB endpoint and moves its SUB there. */
  private async hello(feed: YellowFeed): Promise<void> {
    const h = await feed.link.request<'hello'>({ op: 'hello' }, this.opts.queryTimeoutMs);
    if (this.stopped || feed.sub.closed) return;
    const pub = reachable(h.pub, feed.link.endpoint);
    if (feed.pub === pub) return;
    if (feed.pub) feed.sub.disconnect(feed.pub);
    feed.sub.connect(pub);
    feed.pub = pub;
    this.opts.logger.debug({ yellow: feed.link.endpoint, pub }, 'watching yellow events');
  }

  private async receiveLoop(feed: YellowFeed, i: number): Promise<void> {
    const { sub } = feed;
    while (!sub.closed) {
      let frames: Buffer[];
      try {
        frames = await sub.receive();
      } catch (e) {
        if (sub.closed) return;
        this.opts.logger.warn({ err: e }, 'yellow event receive failed');
        continue;
      }
      for (const f of frames) this.stats.eventBytes += f.length;
      const ev = decodeEvent(frames);
      if (!ev) {
        this.opts.logger.warn('malformed yellow event dropped');
        continue;
      }
      const now = Date.now();
      feed.lastHeard = now;
      if (this.opts.dropEvent?.(ev)) continue;
      const verdict = feed.cursor.accept(ev);
      if (verdict.apply) {
        this.stats.events++;
        this.directory.apply(ev, now, i);
      }
      if (verdict.resync) {
        this.opts.logger.debug({ yellow: feed.link.endpoint, reason: verdict.resync }, 'yellow resync needed');
        this.requestResync(i, verdict.resync);
      }
    }
  }
}

/** A Yellow bound on a wildcard address advertises it; reach its PUB the way we reach its ROUTER. */
function reachable(pub: string, router: string): string {
  const m = pub.match(/^tcp:\/\/(0\.0\.0\.0|\*|\[::\]|\[\*\]):(\d+)$/);
  const host = router.match(/^tcp:\/\/(.+):\d+$/)?.[1];
  return m && host ? `tcp://${host}:${m[2]}` : pub;
}
