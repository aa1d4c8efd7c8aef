/**
 * One push or room message on its way to many connections: each encoding it needs (compact as
 * built, binary, Thrift JSON, with or without the 4-byte frame length) is made once, by the first
 * connection that needs it, and the same bytes are shared by every other. Without it, a room
 * message to 4,000 binary members was transcoded 4,000 times.
 */
import type { ThriftProtocol } from '../shared/thrift/header';
import { transcodeMessage } from './transcode';

export class SharedPush {
  private binaryBytes: Buffer | undefined;
  private framedCompact: Buffer | undefined;
  private framedBinary: Buffer | undefined;
  /** JSON text per translator (a push translates alike for every connection with the same shapes) */
  private jsonKey: object | undefined;
  private jsonBytes: Buffer | undefined | null;

  /** `compact`: the message as services build it (compact protocol) */
  constructor(readonly compact: Buffer) {}

  /** The message in `protocol`. */
  bytes(protocol: ThriftProtocol): Buffer {
    if (protocol === 'compact') return this.compact;
    return (this.binaryBytes ??= transcodeMessage(this.compact, protocol));
  }

  /** 4-byte big-endian length + the message in `protocol`, in one buffer (framed TCP). */
  framed(protocol: ThriftProtocol): Buffer {
    if (protocol === 'compact') return (this.framedCompact ??= withLength(this.compact));
    return (this.framedBinary ??= withLength(this.bytes(protocol)));
  }

  /**
   * The JSON translation made by `translate`, once per `key` (the translator's shapes): undefined
   * when the push does not translate.
   */
  json(key: object, translate: (compact: Buffer) => Buffer | undefined): Buffer | undefined {
    if (this.jsonKey !== key) {
      this.jsonKey = key;
      this.jsonBytes = translate(this.compact) ?? null;
    }
    return this.jsonBytes ?? undefined;
  }
}

export function withLength(message: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + message.length);
  out.writeUInt32BE(message.length, 0);
  message.copy(out, 4);
  return out;
}
