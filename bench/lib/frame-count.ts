/**
 * Receiving side of the fan-out bench: counts length-prefixed frames on a socket without
 * decoding them (the cheapest honest reader, so the receivers are not what is measured), and,
 * on the sockets chosen to check, reads each frame's room seq and counts every seq that is not
 * the last one + 1 (a message lost, doubled or out of order).
 */
import { Events } from '../../shared/protocol';
import { openMessage } from '../../shared/thrift/messages';

const CAPS = { maxString: 1 << 20, maxContainer: 100_000, maxDepth: 32 };

/** Counts frames by their 4-byte big-endian length prefix, across chunk boundaries. */
export class FrameCounter {
  frames = 0;
  /** body bytes still to skip of the current frame */
  private skip = 0;
  /** length bytes of the next frame read so far (0..3) and their value */
  private headerHave = 0;
  private headerValue = 0;

  push(chunk: Buffer): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.skip > 0) {
        const take = Math.min(this.skip, n - i);
        this.skip -= take;
        i += take;
        continue;
      }
      if (this.headerHave === 0 && n - i >= 4) {
        this.skip = chunk.readUInt32BE(i);
        i += 4;
        this.frames++;
        continue;
      }
      this.headerValue = this.headerValue * 256 + (chunk[i] as number);
      this.headerHave++;
      i++;
      if (this.headerHave === 4) {
        this.skip = this.headerValue;
        this.headerHave = 0;
        this.headerValue = 0;
        this.frames++;
      }
    }
  }
}

/** The room seq of a chatMessage push (compact or binary); undefined if it is not one. */
export function chatSeq(frame: Buffer): number | undefined {
  try {
    const { input } = openMessage(frame, CAPS);
    const m = input.readMessageBegin();
    if (m.fname !== 'Events:chatMessage' && m.fname !== 'chatMessage') return undefined;
    const seq = Events.ChatMessageArgs.read(input).message?.seq;
    return seq === undefined ? undefined : Number(seq.toString());
  } catch {
    return undefined;
  }
}

/** Seqs seen on one checked socket: each must be the previous one + 1. */
export class SeqCheck {
  last: number | undefined;
  seen = 0;
  /** seqs that were not last + 1 (lost, doubled or reordered), and frames that were no chat message */
  bad = 0;

  offer(seq: number | undefined): void {
    this.seen++;
    if (seq === undefined) {
      this.bad++;
      return;
    }
    if (this.last !== undefined && seq !== this.last + 1) this.bad++;
    this.last = seq;
  }
}
