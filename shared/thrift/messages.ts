/** Building and opening whole Thrift messages in memory (no sockets). */
import * as thrift from 'thrift';
import { CappedBinaryProtocol, CappedCompactProtocol, type DecodeCaps } from './capped';
import type { ThriftProtocol } from './header';
import { bufferTransport, FastCompactProtocol } from './fast-write';

const { TFramedTransport } = thrift;

export type ProtocolClass = new (trans: thrift.TTransport) => thrift.TProtocol;

/** Compact writes go through FastCompactProtocol (it reads like the stock one). */
export function protocolClass(kind: ThriftProtocol): ProtocolClass {
  return kind === 'compact' ? FastCompactProtocol : thrift.TBinaryProtocol;
}

/** Writes one message with `write` and returns its bytes (no frame length). */
export function buildMessage(kind: ThriftProtocol, write: (out: thrift.TProtocol) => void): Buffer {
  let bytes: Buffer | undefined;
  const trans = bufferTransport((framed) => {
    bytes = framed.subarray(4);
  });
  const out = new (protocolClass(kind))(trans);
  write(out);
  trans.flush();
  if (bytes === undefined) throw new Error('thrift transport did not flush');
  return bytes;
}

/**
 * A broker- or framework-made error as a standard Thrift TApplicationException reply, with the
 * caller's name and seqid. `message` starts with the noon error code, e.g. "UNAVAILABLE: ...".
 */
export function applicationException(
  kind: ThriftProtocol,
  name: string,
  seqid: number,
  type: thrift.Thrift.TApplicationExceptionType,
  message: string,
): Buffer {
  return buildMessage(kind, (out) => {
    out.writeMessageBegin(name, thrift.Thrift.MessageType.EXCEPTION, seqid);
    // Written by hand: the npm package's TApplicationException.write() reads `this.code`, which
    // its constructor never sets, so the type field would never reach the client.
    out.writeStructBegin('TApplicationException');
    out.writeFieldBegin('message', thrift.Thrift.Type.STRING, 1);
    out.writeString(message);
    out.writeFieldEnd();
    out.writeFieldBegin('type', thrift.Thrift.Type.I32, 2);
    out.writeI32(type);
    out.writeFieldEnd();
    out.writeFieldStop();
    out.writeStructEnd();
    out.writeMessageEnd();
  });
}

export interface OpenedMessage {
  input: thrift.TProtocol;
  /** bytes not consumed yet: must be 0 after the message was read (trailing bytes are an error) */
  remaining(): number;
  /** whether a string was refused as text a database cannot store (caps.strictText) */
  refusedText(): boolean;
}

/** Opens bytes for reading under decode caps; a whole message names its protocol by its first byte. */
export function openMessage(
  bytes: Buffer,
  caps: DecodeCaps,
  kind: ThriftProtocol = bytes[0] === 0x82 ? 'compact' : 'binary',
): OpenedMessage {
  const trans = new TFramedTransport(bytes);
  const input =
    kind === 'compact' ? CappedCompactProtocol.withCaps(trans, caps) : CappedBinaryProtocol.withCaps(trans, caps);
  return {
    input,
    remaining: () => {
      const b = (trans as unknown as { borrow(): { readIndex: number; writeIndex: number } }).borrow();
      return b.writeIndex - b.readIndex;
    },
    refusedText: () => input.refusedText,
  };
}

/** A protocol class that writes "Service:method" names (the standard multiplexed protocol). */
export function multiplexedProtocol(base: ProtocolClass, service: string): ProtocolClass {
  return class Multiplexed extends (base as new (trans: thrift.TTransport) => thrift.TProtocol) {
    override writeMessageBegin(name: string, type: thrift.Thrift.MessageType, seqid: number): void {
      const isCall = type === thrift.Thrift.MessageType.CALL || type === thrift.Thrift.MessageType.ONEWAY;
      super.writeMessageBegin(isCall ? `${service}:${name}` : name, type, seqid);
    }
  };
}

/** A protocol class whose reads strip the "Service:" prefix, so a generated Processor sees "grant". */
export function demultiplexed(input: thrift.TProtocol): thrift.TProtocol {
  const read = input.readMessageBegin.bind(input);
  input.readMessageBegin = (): thrift.TMessage => {
    const m = read();
    const i = m.fname.indexOf(':');
    return i >= 0 ? { ...m, fname: m.fname.slice(i + 1) } : m;
  };
  return input;
}
