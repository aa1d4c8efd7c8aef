/**
 * The raw ZeroMQ client of the service-call baseline: a DEALER that sends [header, payload] frame
 * pairs (request id at byte 1 of the header, as in noon's request header) and matches echoed
 * pairs back to their calls. No codec beyond writing and reading that id.
 */
import * as zmq from 'zeromq';
import { RawSender, type SendMode } from './zmq-senders';

export class RawZmqClient {
  private readonly dealer = new zmq.Dealer({
    linger: 0,
    sendHighWaterMark: 10_000,
    receiveHighWaterMark: 10_000,
    sendTimeout: 1000,
  });
  private readonly sender: RawSender;
  private readonly pending = new Map<number, () => void>();
  private nextId = 1;

  /** `header` is a template: copied per call with the request id written at byte 1. */
  constructor(
    endpoint: string,
    mode: SendMode,
    private readonly header: Buffer,
    private readonly payload: Buffer,
  ) {
    this.dealer.connect(endpoint);
    this.sender = new RawSender(this.dealer, mode);
    void this.receive();
  }

  call(): Promise<void> {
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    const header = Buffer.from(this.header);
    header.writeUInt32BE(id, 1);
    return new Promise<void>((resolve) => {
      this.pending.set(id, resolve);
      this.sender.send([header, this.payload]);
    });
  }

  close(): void {
    this.sender.close();
    this.dealer.close();
  }

  private async receive(): Promise<void> {
    try {
      for await (const frames of this.dealer) {
        for (let i = 0; i + 1 < frames.length; i += 2) {
          const id = (frames[i] as Buffer).readUInt32BE(1);
          const done = this.pending.get(id);
          this.pending.delete(id);
          done?.();
        }
      }
    } catch {
      // closed
    }
  }
}
