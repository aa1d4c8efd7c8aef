/**
 * Keeps a Directory current: one SUB connected to every Yellow's PUB (learned with `hello`, and
 * learned again when a Yellow's startedAt changes, since a restarted Yellow binds a new PUB port),
 * plus a `query` poll of every Yellow each heartbeatMs. Events make changes visible within
 * milliseconds; the poll repairs anything a SUB missed (PUB drops when a subscriber reconnects).
 */
import * as zmq from 'zeromq';
import { curveClientOptions, yellowKeyOf, type CurveKeys } from '../shared/curve';
import type { Logger } from '../shared/log';
import { Directory, type PollAnswer } from './directory';
import type { YellowLink } from './link';
import { decodeEvent, EVENT_TOPIC, MAX_EVENT_BYTES } from './wire';

export interface WatcherOptions {
  links: YellowLink[];
  heartbeatMs: number;
  queryTimeoutMs: number;
  logger: Logger;
  curve?: CurveKeys;
}

interface PubState {
  endpoint?: string;
  startedAt?: number;
}

export class Watcher {
  readonly directory = new Directory();
  private readonly sub: zmq.Subscriber;
  private readonly pubs: PubState[];
  private timer?: NodeJS.Timeout;
  private loop?: Promise<void>;
  private polling = false;
  private stopped = false;

  constructor(private readonly opts: WatcherOptions) {
    this.sub = new zmq.Subscriber({
      linger: 0,
      receiveHighWaterMark: 10_000,
      maxMessageSize: MAX_EVENT_BYTES,
      reconnectInterval: 100,
      reconnectMaxInterval: 2000,
      ...curveClientOptions(opts.curve, opts.curve ? yellowKeyOf(opts.curve) : undefined),
    });
    this.sub.subscribe(EVENT_TOPIC);
    this.pubs = opts.links.map(() => ({}));
  }

  /** Runs the first poll round (so the table starts filled when any Yellow answers), then keeps polling. */
  async start(): Promise<void> {
    this.loop = this.receiveLoop();
    await this.poll();
    if (!this.stopped) this.timer = setInterval(() => void this.poll(), this.opts.heartbeatMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (!this.sub.closed) this.sub.close();
    await this.loop;
  }

  /** One round: query every Yellow at once; a round still running when the next is due is skipped. */
  private async poll(): Promise<void> {
    if (this.polling || this.stopped) return;
    this.polling = true;
    const started = Date.now();
    try {
      const results = await Promise.all(this.opts.links.map((link, i) => this.pollOne(link, i)));
      if (this.stopped) return;
      this.directory.reconcile(
        results.filter((r): r is PollAnswer => r !== undefined),
        started,
      );
    } finally {
      this.polling = false;
    }
  }

  private async pollOne(link: YellowLink, i: number): Promise<PollAnswer | undefined> {
    let answer;
    try {
      answer = await link.request<'query'>({ op: 'query' }, this.opts.queryTimeoutMs, 'watch-query');
    } catch (e) {
      this.opts.logger.debug({ err: e, yellow: link.endpoint }, 'yellow poll failed');
      return undefined;
    }
    const pub = this.pubs[i];
    if (pub && pub.startedAt !== answer.startedAt) {
      await this.hello(link, pub).catch((e: unknown) =>
        this.opts.logger.debug({ err: e, yellow: link.endpoint }, 'yellow hello failed'),
      );
    }
    return answer;
  }

  /** (Re)learns a Yellow's PUB endpoint and moves the SUB to it. */
  private async hello(link: YellowLink, pub: PubState): Promise<void> {
    const h = await link.request<'hello'>({ op: 'hello' }, this.opts.queryTimeoutMs);
    if (this.stopped || this.sub.closed) return;
    h.pub = reachable(h.pub, link.endpoint);
    if (pub.endpoint !== h.pub) {
      const old = pub.endpoint;
      pub.endpoint = undefined;
      if (old && !this.pubs.some((p) => p.endpoint === old)) this.sub.disconnect(old);
      if (!this.pubs.some((p) => p.endpoint === h.pub)) this.sub.connect(h.pub);
      pub.endpoint = h.pub;
      this.opts.logger.debug({ yellow: link.endpoint, pub: h.pub }, 'watching yellow events');
    }
    pub.startedAt = h.startedAt;
  }

  private async receiveLoop(): Promise<void> {
    while (!this.sub.closed) {
      let frames: Buffer[];
      try {
        frames = await this.sub.receive();
      } catch (e) {
        if (this.sub.closed) return;
        this.opts.logger.warn({ err: e }, 'yellow event receive failed');
        continue;
      }
      const ev = decodeEvent(frames);
      if (ev) this.directory.apply(ev);
      else this.opts.logger.warn('malformed yellow event dropped');
    }
  }
}

/** A Yellow bound on a wildcard address advertises it; reach its PUB the way we reach its ROUTER. */
function reachable(pub: string, router: string): string {
  const m = pub.match(/^tcp:\/\/(0\.0\.0\.0|\*|\[::\]|\[\*\]):(\d+)$/);
  const host = router.match(/^tcp:\/\/(.+):\d+$/)?.[1];
  return m && host ? `tcp://${host}:${m[2]}` : pub;
}
