/**
 * Thrift framed transport on client TCP connections, done by hand: a 4-byte big-endian length,
 * then one message. A length <= 0 or above `maxFrame` is refused from the 4 length bytes alone,
 * before anything is buffered (the npm thrift receiver spins forever on a negative length).
 */
export class FrameTooLarge extends Error {
  constructor(
    readonly length: number,
    readonly maxFrame: number,
  ) {
    super(
      length <= 0 ? `frame length ${length} is not positive` : `frame length ${length} exceeds the limit ${maxFrame}`,
    );
    this.name = 'FrameTooLarge';
  }
}

export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private need = -1;

  constructor(private readonly maxFrame: number) {}

  /** Bytes held for an incomplete frame. */
  get pending(): number {
    return this.buffered;
  }

  /** Feeds received bytes; returns the complete frames. Throws FrameTooLarge on a bad length. */
  push(data: Buffer): Buffer[] {
    this.chunks.push(data);
    this.buffered += data.length;
    const out: Buffer[] = [];
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < 4) return out;
        const len = this.peekLength();
        if (len <= 0 || len > this.maxFrame) throw new FrameTooLarge(len, this.maxFrame);
        this.take(4);
        this.need = len;
      }
      if (this.buffered < this.need) return out;
      out.push(this.take(this.need));
      this.need = -1;
    }
  }

  private peekLength(): number {
    const head = this.chunks[0] as Buffer;
    if (head.length >= 4) return head.readInt32BE(0);
    return this.take(4, true).readInt32BE(0);
  }

  /** Removes n bytes from the front (or only looks, with peek). */
  private take(n: number, peek = false): Buffer {
    const head = this.chunks[0] as Buffer;
    if (head.length >= n) {
      const out = head.subarray(0, n);
      if (!peek) {
        if (head.length === n) this.chunks.shift();
        else this.chunks[0] = head.subarray(n);
        this.buffered -= n;
      }
      return out;
    }
    const all = Buffer.concat(this.chunks, this.buffered);
    const out = all.subarray(0, n);
    if (!peek) {
      this.chunks = all.length > n ? [all.subarray(n)] : [];
      this.buffered -= n;
    } else {
      this.chunks = [all];
    }
    return out;
  }
}

export function frameOf(message: Buffer): Buffer[] {
  const len = Buffer.allocUnsafe(4);
  len.writeUInt32BE(message.length, 0);
  return [len, message];
}
