/**
 * One bounded queue feeding one socket. zeromq.js allows one `send()` in flight per socket, so
 * every writer goes through here. When the queue is full `push` returns false and the message is
 * dropped: Yellow traffic is soft state, and the sender's deadline covers a lost request.
 */
import type { Logger } from '../shared/log';

export interface SendSocket {
  send(message: Array<string | Buffer>): Promise<void>;
}

export class Outbox {
  private readonly queue: Array<Array<string | Buffer>> = [];
  private pumping = false;
  private closed = false;
  dropped = 0;
  /** bytes of every message accepted for sending */
  bytes = 0;

  constructor(
    private readonly socket: SendSocket,
    private readonly limit: number,
    private readonly logger: Logger,
    private readonly name: string,
  ) {}

  /** Queues a message; false when full or closed (the message is dropped). */
  push(message: Array<string | Buffer>): boolean {
    if (this.closed || this.queue.length >= this.limit) {
      this.dropped++;
      return false;
    }
    this.queue.push(message);
    for (const part of message) this.bytes += typeof part === 'string' ? Buffer.byteLength(part) : part.length;
    if (!this.pumping) void this.pump();
    return true;
  }

  /** Drops whatever is queued; later pushes are refused. */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      for (let msg = this.queue.shift(); msg && !this.closed; msg = this.queue.shift()) {
        try {
          await this.socket.send(msg);
        } catch (e) {
          // EHOSTUNREACH (ROUTER mandatory, peer gone), EAGAIN (HWM/sendTimeout) or a closed
          // socket: the message is lost and the peer's own deadline takes over.
          this.dropped++;
          this.logger.debug({ err: e, outbox: this.name }, 'send failed, message dropped');
        }
      }
    } finally {
      this.pumping = false;
    }
  }
}
