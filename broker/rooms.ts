/**
 * Room subscriptions. A room topic belongs to a publishing role (chat), not to one instance: the
 * broker keeps one ZeroMQ SUB per live instance of that role and subscribes every one of them to
 * every topic that has members here. So when a room's ownership moves (an instance joins, drains
 * or dies) the new owner's messages arrive with no resubscription and nothing for the client to
 * do; the owners' fencing (services/chat/rooms.ts) makes sure only one of them numbers the room.
 *
 * Each message is fanned out to the local members in arrival order, its bytes encoded once per
 * protocol and shared (edge/shared-push.ts); a member whose outbound
 * queue is full is cut off by its connection, and nobody else waits for it. Members order and
 * deduplicate by the room seq themselves (the SDK), since two publishers' sockets do not order
 * against each other during a hand-off.
 */
import * as zmq from 'zeromq';
import { curveClientOptions, type CurveKeys } from '../shared/curve';
import type { Logger } from '../shared/log';
import { decodeBatch } from '../shared/wire/frames';
import { SharedPush } from '../edge/shared-push';

export interface RoomMember {
  readonly id: string;
  /**
   * queue one Thrift message to the client (a room message with its seq, shared by all members:
   * each encoding made once); false if the member was cut off
   */
  deliver(message: Buffer | SharedPush, seq?: number, now?: number): boolean;
}

export interface PublisherInfo {
  instanceId: string;
  role: string;
  endpoint: string;
  /** the instance's CURVE key (from Yellow), pinned by the subscription */
  serverKey?: string;
}

interface Publisher extends PublisherInfo {
  socket: zmq.Subscriber;
}

interface Topic {
  role: string;
  members: Set<RoomMember>;
}

export class RoomHub {
  private readonly publishers = new Map<string, Publisher>();
  private readonly topics = new Map<string, Topic>();

  constructor(
    private readonly opts: {
      logger: Logger;
      maxPayload: number;
      curve?: CurveKeys;
      /** the live publishing instances of a role (from the routing table) */
      live(role: string): PublisherInfo[];
      onDelivered?(topic: string, members: number): void;
    },
  ) {}

  /** Topics with members here. */
  get topicCount(): number {
    return this.topics.size;
  }

  /** Makes `member` receive the topic's messages from every live instance of `role`. */
  subscribe(topic: string, role: string, member: RoomMember): void {
    let t = this.topics.get(topic);
    if (!t) {
      t = { role, members: new Set() };
      this.topics.set(topic, t);
      for (const p of this.publishers.values()) if (p.role === role) p.socket.subscribe(topic);
    }
    t.members.add(member);
    // An instance this hub has not connected to yet (it came up before the role had topics here).
    for (const info of this.opts.live(role)) if (!this.publishers.has(info.instanceId)) this.publisherUp(info);
  }

  unsubscribe(topic: string, member: RoomMember): void {
    const t = this.topics.get(topic);
    if (!t?.members.delete(member) || t.members.size > 0) return;
    this.topics.delete(topic);
    for (const p of this.publishers.values()) if (p.role === t.role) p.socket.unsubscribe(topic);
  }

  removeMember(member: RoomMember): void {
    for (const topic of this.topicsOf(member)) this.unsubscribe(topic, member);
  }

  /** A new instance: subscribe it to the topics of its role that have members here. */
  publisherUp(info: PublisherInfo): void {
    if (this.publishers.has(info.instanceId)) return;
    const topics = [...this.topics].filter(([, t]) => t.role === info.role);
    if (topics.length === 0) return;
    const p = this.publisher(info);
    for (const [topic] of topics) p.socket.subscribe(topic);
  }

  /**
   * The publisher is gone. Its rooms carry on at the other instances of its role; returns, per
   * topic, the members that lost their room because no instance of the role is left.
   */
  publisherDown(instanceId: string): Map<string, RoomMember[]> {
    const lost = new Map<string, RoomMember[]>();
    const p = this.publishers.get(instanceId);
    if (!p) return lost;
    this.publishers.delete(instanceId);
    p.socket.close();
    if ([...this.publishers.values()].some((q) => q.role === p.role)) return lost;
    for (const [topic, t] of [...this.topics]) {
      if (t.role !== p.role) continue;
      lost.set(topic, [...t.members]);
      this.topics.delete(topic);
    }
    return lost;
  }

  topicsOf(member: RoomMember): string[] {
    const out: string[] = [];
    for (const [topic, t] of this.topics) if (t.members.has(member)) out.push(topic);
    return out;
  }

  close(): void {
    for (const p of this.publishers.values()) p.socket.close();
    this.publishers.clear();
    this.topics.clear();
  }

  private publisher(info: PublisherInfo): Publisher {
    const existing = this.publishers.get(info.instanceId);
    if (existing) return existing;
    const socket = new zmq.Subscriber({
      linger: 0,
      receiveHighWaterMark: 100_000,
      maxMessageSize: 64 * 1024 * 1024,
      heartbeatInterval: 1000,
      heartbeatTimeout: 3000,
      ...curveClientOptions(this.opts.curve, info.serverKey),
    });
    socket.connect(info.endpoint);
    const p: Publisher = { ...info, socket };
    this.publishers.set(info.instanceId, p);
    void this.receive(p);
    return p;
  }

  private async receive(p: Publisher): Promise<void> {
    try {
      for await (const [topicFrame, ...frames] of p.socket) this.fanOut(p, topicFrame?.toString() ?? '', frames);
    } catch (err) {
      if (!p.socket.closed) this.opts.logger.warn({ err, publisher: p.instanceId }, 'room receive loop ended');
    }
  }

  private fanOut(p: Publisher, topic: string, frames: Buffer[]): void {
    // SUB matches prefixes: "chat/r1" also receives "chat/r10", so match the topic exactly.
    const members = this.topics.get(topic)?.members;
    if (!members || members.size === 0) return;
    let envelopes;
    try {
      envelopes = decodeBatch(frames, this.opts.maxPayload);
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message, publisher: p.instanceId }, 'dropped malformed room message');
      return;
    }
    const now = Date.now();
    for (const e of envelopes) {
      if (e.kind !== 'room' || e.topic !== topic) continue;
      const push = new SharedPush(e.payload);
      // deleting the member being visited is safe while iterating a Set
      for (const m of members) if (!m.deliver(push, e.seq, now)) members.delete(m);
      this.opts.onDelivered?.(topic, members.size);
    }
  }
}
