/**
 * Room subscriptions: one ZeroMQ SUB per publishing service instance, subscribed to the topics
 * that have members on this broker. Each message (numbered by the room's owner) is fanned out
 * to the local members in arrival order; a member whose outbound queue is full is cut off by its
 * connection, and nobody else waits for it.
 */
import * as zmq from 'zeromq';
import { curveClientOptions, type CurveKeys } from '../shared/curve';
import type { Logger } from '../shared/log';
import { decodeBatch } from '../shared/wire/frames';

export interface RoomMember {
  readonly id: string;
  /** queue one Thrift message to the client; false if the member was cut off */
  deliver(message: Buffer): boolean;
}

interface Publisher {
  instanceId: string;
  endpoint: string;
  socket: zmq.Subscriber;
  topics: Map<string, Set<RoomMember>>;
}

export class RoomHub {
  private readonly publishers = new Map<string, Publisher>();

  constructor(
    private readonly opts: {
      logger: Logger;
      maxPayload: number;
      curve?: CurveKeys;
      onDelivered?(topic: string, members: number): void;
    },
  ) {}

  subscribe(
    topic: string,
    publisher: { instanceId: string; endpoint: string; serverKey?: string },
    member: RoomMember,
  ): void {
    const p = this.publisher(publisher.instanceId, publisher.endpoint, publisher.serverKey);
    let members = p.topics.get(topic);
    if (!members) {
      members = new Set();
      p.topics.set(topic, members);
      p.socket.subscribe(topic);
    }
    members.add(member);
  }

  unsubscribe(topic: string, member: RoomMember): void {
    for (const p of this.publishers.values()) {
      const members = p.topics.get(topic);
      if (!members?.delete(member) || members.size > 0) continue;
      p.topics.delete(topic);
      p.socket.unsubscribe(topic);
    }
  }

  removeMember(member: RoomMember): void {
    for (const p of this.publishers.values()) {
      for (const topic of [...p.topics.keys()]) this.unsubscribe(topic, member);
    }
  }

  /** The publisher is gone: returns, per topic, the members that lost their room. */
  publisherDown(instanceId: string): Map<string, RoomMember[]> {
    const p = this.publishers.get(instanceId);
    const lost = new Map<string, RoomMember[]>();
    if (!p) return lost;
    this.publishers.delete(instanceId);
    for (const [topic, members] of p.topics) lost.set(topic, [...members]);
    p.socket.close();
    return lost;
  }

  topicsOf(member: RoomMember): string[] {
    const out: string[] = [];
    for (const p of this.publishers.values()) for (const [t, ms] of p.topics) if (ms.has(member)) out.push(t);
    return out;
  }

  close(): void {
    for (const id of [...this.publishers.keys()]) this.publisherDown(id);
  }

  private publisher(instanceId: string, endpoint: string, serverKey: string | undefined): Publisher {
    const existing = this.publishers.get(instanceId);
    if (existing) return existing;
    const socket = new zmq.Subscriber({
      linger: 0,
      receiveHighWaterMark: 100_000,
      maxMessageSize: 64 * 1024 * 1024,
      heartbeatInterval: 1000,
      heartbeatTimeout: 3000,
      ...curveClientOptions(this.opts.curve, serverKey),
    });
    socket.connect(endpoint);
    const p: Publisher = { instanceId, endpoint, socket, topics: new Map() };
    this.publishers.set(instanceId, p);
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
    const members = p.topics.get(topic);
    if (!members || members.size === 0) return;
    let envelopes;
    try {
      envelopes = decodeBatch(frames, this.opts.maxPayload);
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message, publisher: p.instanceId }, 'dropped malformed room message');
      return;
    }
    for (const e of envelopes) {
      if (e.kind !== 'room' || e.topic !== topic) continue;
      for (const m of [...members]) if (!m.deliver(e.payload)) members.delete(m);
      this.opts.onDelivered?.(topic, members.size);
    }
  }
}
