/**
 * yellow.md by hand: one DEALER to a Yellow ROUTER (JSON requests with a rid), a SUB on its PUB.
 * Written only from docs/protocol; imports nothing of the repository (the spec-peer test checks).
 */
import assert from 'node:assert/strict';
import * as zmq from 'zeromq';

// ---------------------------------------------------------------------------------------------
// yellow.md: one DEALER to Yellow's ROUTER, JSON requests with a rid, a SUB on its PUB.
// ---------------------------------------------------------------------------------------------

export interface YellowEvent {
  type: string;
  instanceId?: string;
  reason?: string;
  draining?: boolean;
  instance?: { instanceId: string; epoch: number; draining: boolean };
}

/** A CURVE client's keys (Z85): Yellow's public key, pinned, and the caller's own pair. */
export interface CurveClient {
  curveServerKey: string;
  curvePublicKey: string;
  curveSecretKey: string;
}

export class YellowConn {
  private readonly dealer: zmq.Dealer;
  private readonly sub: zmq.Subscriber;
  private readonly pending = new Map<number, (reply: Record<string, unknown>) => void>();
  private rid = 0;
  private sends: Promise<void> = Promise.resolve();
  readonly events: YellowEvent[] = [];
  private eventWaiters: Array<() => void> = [];

  /** `curve`: both sockets are CURVE clients of Yellow (frames.md §10); plaintext without it. */
  constructor(router: string, curve?: CurveClient) {
    const dealer = new zmq.Dealer({ linger: 0, ...curve });
    const sub = new zmq.Subscriber({ linger: 0, ...curve });
    this.dealer = dealer;
    this.sub = sub;
    dealer.connect(router);
    void (async () => {
      for await (const [tag, body] of dealer) {
        assert.equal(tag?.toString(), 'noon-yellow/1');
        const reply = JSON.parse(String(body)) as Record<string, unknown>;
        this.pending.get(reply.rid as number)?.(reply);
        this.pending.delete(reply.rid as number);
      }
    })().catch(() => undefined);
    void (async () => {
      for await (const [topic, body] of sub) {
        assert.equal(topic?.toString(), 'ev');
        this.events.push(JSON.parse(String(body)) as YellowEvent);
        for (const w of this.eventWaiters.splice(0)) w();
      }
    })().catch(() => undefined);
  }

  /** One request; rejects when no reply comes within deadlineMs (yellow.md §2). */
  ask(op: string, fields: Record<string, unknown> = {}, deadlineMs = 2000): Promise<Record<string, unknown>> {
    const rid = ++this.rid;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(rid);
        reject(new Error(`Yellow gave no reply to ${op} within ${deadlineMs} ms`));
      }, deadlineMs);
      this.pending.set(rid, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      // zeromq.js allows one send in flight per socket
      this.sends = this.sends
        .then(() => this.dealer.send(['noon-yellow/1', JSON.stringify({ op, rid, ...fields })]))
        .catch(reject);
    });
  }

  follow(pub: string): void {
    this.sub.connect(pub);
    this.sub.subscribe('ev');
  }

  /** Waits for an event matching `pred` that arrives after `from` (an index into `events`). */
  async event(what: string, pred: (e: YellowEvent) => boolean, deadlineMs: number, from = 0): Promise<YellowEvent> {
    const end = Date.now() + deadlineMs;
    for (;;) {
      const found = this.events.slice(from).find(pred);
      if (found) return found;
      const left = end - Date.now();
      if (left <= 0) throw new Error(`no Yellow event ${what} within ${deadlineMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.eventWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.dealer.close();
    this.sub.close();
  }
}
