/**
 * Rewrites one Thrift message from one protocol into another without knowing its IDL type (a
 * generic walk driven by the wire types). Services build pushes in compact protocol; a client
 * that speaks binary gets them in binary. Input comes from our services but is still decoded
 * under caps.
 */
import * as thrift from 'thrift';
import { DEFAULT_CAPS } from '../shared/thrift/capped';
import { buildMessage, openMessage } from '../shared/thrift/messages';
import type { ThriftProtocol } from '../shared/thrift/header';

const T = thrift.Thrift.Type;
const CAPS = { ...DEFAULT_CAPS, maxString: 1 << 20, maxContainer: 100_000 };

function copyContainer(type: thrift.Thrift.Type, i: thrift.TProtocol, o: thrift.TProtocol): void {
  if (type === T.MAP) {
    const m = i.readMapBegin();
    o.writeMapBegin(m.ktype, m.vtype, m.size);
    for (let n = 0; n < m.size; n++) {
      copyValue(m.ktype, i, o);
      copyValue(m.vtype, i, o);
    }
    i.readMapEnd();
    o.writeMapEnd();
    return;
  }
  const isSet = type === T.SET;
  const l = isSet ? i.readSetBegin() : i.readListBegin();
  if (isSet) o.writeSetBegin(l.etype, l.size);
  else o.writeListBegin(l.etype, l.size);
  for (let n = 0; n < l.size; n++) copyValue(l.etype, i, o);
  if (isSet) o.writeSetEnd();
  else o.writeListEnd();
}

function copyValue(type: thrift.Thrift.Type, i: thrift.TProtocol, o: thrift.TProtocol): void {
  switch (type) {
    case T.BOOL:
      o.writeBool(i.readBool());
      return;
    case T.BYTE:
      o.writeByte(i.readByte());
      return;
    case T.I16:
      o.writeI16(i.readI16());
      return;
    case T.I32:
      o.writeI32(i.readI32());
      return;
    case T.I64:
      o.writeI64(i.readI64());
      return;
    case T.DOUBLE:
      o.writeDouble(i.readDouble());
      return;
    case T.STRING:
      o.writeBinary(i.readBinary());
      return;
    case T.STRUCT:
      copyStruct(i, o);
      return;
    case T.MAP:
    case T.SET:
    case T.LIST:
      copyContainer(type, i, o);
      return;
    default:
      throw new Error(`cannot transcode Thrift type ${type}`);
  }
}

function copyStruct(i: thrift.TProtocol, o: thrift.TProtocol): void {
  i.readStructBegin();
  o.writeStructBegin('');
  for (;;) {
    const f = i.readFieldBegin();
    if (f.ftype === T.STOP) break;
    o.writeFieldBegin('', f.ftype, f.fid);
    copyValue(f.ftype, i, o);
    o.writeFieldEnd();
    i.readFieldEnd();
  }
  o.writeFieldStop();
  o.writeStructEnd();
  i.readStructEnd();
}

/** The same message in `to` protocol (returned as is when it already is). */
export function transcodeMessage(bytes: Buffer, to: ThriftProtocol): Buffer {
  const from: ThriftProtocol = bytes[0] === 0x82 ? 'compact' : 'binary';
  if (from === to) return bytes;
  const { input } = openMessage(bytes, CAPS, from);
  return buildMessage(to, (out) => {
    const m = input.readMessageBegin();
    out.writeMessageBegin(m.fname, m.mtype, m.rseqid);
    copyStruct(input, out);
    out.writeMessageEnd();
  });
}
