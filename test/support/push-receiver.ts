/**
 * The push side of a pretend broker. Services send pushes on the ROUTER they bind for brokers,
 * while a harness's calls (through ServiceCaller, like a service's) go to the ROUTER for services;
 * so a harness that plays broker also connects, under its broker id, one DEALER to every
 * instance's brokers' ROUTER, as a real broker does, and hands each push it receives to `onPush`.
 */
import * as zmq from 'zeromq';
import { decodeBatch, type PushEnvelope } from '../../shared/wire/frames';
import type { Directory } from '../../yellow/directory';
import type { InstanceRecord } from '../../yellow/types';

const MAX_PAYLOAD = 4 << 20;

export class PushReceiver {
  private readonly sockets = new Map<string, zmq.Dealer>();
  private readonly handshakes = new Map<string, Promise<void>>();
  private readonly onUp = (r: InstanceRecord): void => this.connect(r);
  private readonly onDown = ({ instanceId }: { instanceId: string }): void => this.disconnect(instanceId);

  constructor(
    private readonly identity: string,
    private readonly directory: Directory,
    private readonly onPush: (push: PushEnvelope, from: string) => void,
  ) {
    directory.on('up', this.onUp);
    directory.on('down', this.onDown);
    for (const r of directory.instances()) this.connect(r);
  }

  /** Resolves once every instance known now has completed its handshake with us (pushes can reach us). */
  async ready(deadlineMs = 10_000): Promise<void> {
    for (const r of this.directory.instances()) this.connect(r);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`push links not connected within ${deadlineMs} ms`)), deadlineMs);
    });
    try {
      await Promise.race([Promise.all(this.handshakes.values()), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.directory.off('up', this.onUp);
    this.directory.off('down', this.onDown);
    for (const id of [...this.sockets.keys()]) this.disconnect(id);
  }

  private connect(r: InstanceRecord): void {
    const router = r.endpoints.router;
    if (r.role === 'broker' || !router || this.sockets.has(r.instanceId)) return;
    const socket = new zmq.Dealer({ routingId: this.identity, linger: 0, maxMessageSize: MAX_PAYLOAD });
    this.sockets.set(r.instanceId, socket);
    this.handshakes.set(r.instanceId, new Promise<void>((resolve) => socket.events.on('handshake', () => resolve())));
    socket.connect(router);
    void this.receive(socket, r.instanceId);
  }

  private disconnect(instanceId: string): void {
    this.sockets.get(instanceId)?.close();
    this.sockets.delete(instanceId);
    this.handshakes.delete(instanceId);
  }

  private async receive(socket: zmq.Dealer, from: string): Promise<void> {
    try {
      for await (const frames of socket)
        for (const e of decodeBatch(frames, MAX_PAYLOAD)) if (e.kind === 'push') this.onPush(e, from);
    } catch (err) {
      if (!socket.closed) throw err;
    }
  }
}
