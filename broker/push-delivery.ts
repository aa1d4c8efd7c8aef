/**
 * Delivery of a session's numbered push stream (docs/pushes.md) on this broker. A connection that
 * called Events:subscribe gets every push as an ONEWAY message, each seq once and in order: a push
 * that arrives after a gap (another service's push overtook it, or the connection just
 * subscribed) makes the connection catch up from the session store first. Any connection can read
 * the stream with Events:poll instead; a poll that finds nothing waits for the session's next push
 * on this broker. What the window no longer holds is said with `pushesMissed`, never skipped.
 */
import type { Logger } from '../shared/log';
import type { PushLog } from '../shared/data/push-log';
import { StreamCursor, type Replay } from '../shared/push/stream';
import { onewayMessage } from '../shared/thrift/events';
import { Events } from '../shared/protocol';
import type { BrokerConn } from './connection';

/** Catch-up reads in a row for one connection before it waits for the next push to try again. */
const MAX_CATCH_UP_ROUNDS = 8;

interface Subscribed {
  cursor: StreamCursor;
  catchingUp: boolean;
  /** the highest seq that arrived during a catch-up */
  wanted: number;
}

export function pushesMissed(fromSeq: number, toSeq: number): Buffer {
  return onewayMessage('pushesMissed', new Events.PushesMissedArgs({ fromSeq, toSeq }));
}

export class PushDelivery {
  private readonly subscribed = new WeakMap<BrokerConn, Subscribed>();
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(
    private readonly log: PushLog,
    private readonly logger: Logger,
    private readonly maxWaitMs: number,
  ) {}

  /** One numbered push of `conn`'s session reached this broker. */
  offer(conn: BrokerConn, seq: number, message: Buffer): void {
    const s = this.subscribed.get(conn);
    if (!s) return;
    if (s.catchingUp) {
      s.wanted = Math.max(s.wanted, seq);
      return;
    }
    const verdict = s.cursor.offer(seq);
    if (verdict === 'deliver') conn.deliver(message);
    else if (verdict === 'gap') {
      s.wanted = seq;
      void this.catchUp(conn, s);
    }
  }

  /** Wakes the polls of a session waiting on this broker. */
  wake(sessionId: string): void {
    const set = this.waiters.get(sessionId);
    if (!set) return;
    this.waiters.delete(sessionId);
    for (const w of set) w();
  }

  /** `conn` gets the stream as ONEWAY messages from after `afterSeq`; resolves once caught up. */
  async subscribe(conn: BrokerConn, afterSeq: number): Promise<Replay> {
    const sessionId = conn.session?.sessionId;
    if (!sessionId) throw new Error('subscribe needs a logged-in connection');
    conn.wantPushes(true);
    const s: Subscribed = { cursor: new StreamCursor(afterSeq), catchingUp: false, wanted: 0 };
    this.subscribed.set(conn, s);
    return this.catchUp(conn, s);
  }

  /** The connection logged out or into another session: its position means nothing any more. */
  forget(conn: BrokerConn): void {
    this.subscribed.delete(conn);
    conn.wantPushes(false);
  }

  /** The pushes after `afterSeq`; with none yet, waits up to waitMs for the session's next push. */
  async poll(sessionId: string, afterSeq: number, max: number, waitMs: number, closed: () => boolean): Promise<Replay> {
    const first = await this.log.read(sessionId, afterSeq, max);
    const wait = Math.min(waitMs, this.maxWaitMs);
    if (first.pushes.length > 0 || first.missed || wait <= 0 || closed()) return first;
    await new Promise<void>((resolve) => {
      let set = this.waiters.get(sessionId);
      if (!set) this.waiters.set(sessionId, (set = new Set()));
      const done = (): void => {
        clearTimeout(timer);
        set.delete(done);
        resolve();
      };
      const timer = setTimeout(done, wait);
      set.add(done);
    });
    return this.log.read(sessionId, afterSeq, max);
  }

  private async catchUp(conn: BrokerConn, s: Subscribed): Promise<Replay> {
    const sessionId = conn.session?.sessionId ?? '';
    s.catchingUp = true;
    let last: Replay = { pushes: [], lastSeq: s.cursor.last };
    try {
      for (let round = 0; round < MAX_CATCH_UP_ROUNDS; round++) {
        last = await this.log.read(sessionId, s.cursor.last, this.log.window.count);
        if (this.subscribed.get(conn) !== s || conn.conn.closed) return last;
        if (last.missed) {
          conn.deliver(pushesMissed(last.missed.fromSeq, last.missed.toSeq));
          s.cursor.skipTo(last.missed.toSeq);
        }
        for (const p of last.pushes) {
          if (p.seq <= s.cursor.last) continue;
          s.cursor.advanceTo(p.seq);
          conn.deliver(p.message);
        }
        if (s.wanted <= s.cursor.last) break;
      }
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, sessionId }, 'push stream unreachable: catch-up postponed');
    } finally {
      s.catchingUp = false;
    }
    return last;
  }
}
