/** Minimal bounds-checked binary writer/reader for frame headers. */
export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

export class ByteWriter {
  private buf: Buffer;
  private pos = 0;
  constructor(size = 128) {
    this.buf = Buffer.allocUnsafe(size);
  }
  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  u8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
    return this;
  }
  u32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
    return this;
  }
  /** strings are at most 65535 UTF-8 bytes (u16 length) */
  str(v: string): this {
    const len = Buffer.byteLength(v);
    if (len > 0xffff) throw new FrameError(`string of ${len} bytes does not fit a frame header`);
    this.ensure(2 + len);
    this.buf.writeUInt16BE(len, this.pos);
    this.buf.write(v, this.pos + 2, len, 'utf8');
    this.pos += 2 + len;
    return this;
  }
  done(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

export class ByteReader {
  private pos = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly what: string,
  ) {}
  private need(n: number): void {
    if (this.pos + n > this.buf.length)
      throw new FrameError(`${this.what}: truncated at byte ${this.pos} (needs ${n} more)`);
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++] as number;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  str(): string {
    this.need(2);
    const len = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    this.need(len);
    const s = this.buf.toString('utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }
  /** True while bytes are left (an optional trailing field follows). */
  more(): boolean {
    return this.pos < this.buf.length;
  }
  end(): void {
    if (this.pos !== this.buf.length)
      throw new FrameError(`${this.what}: ${this.buf.length - this.pos} trailing bytes`);
  }
}
