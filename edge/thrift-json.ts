/**
 * The Thrift JSON protocol at the edge, for one connection that chose it (WebSocket subprotocol
 * `thrift-json`): its calls become compact messages before the gateway sees them, and every
 * message written to it (replies, broker errors, pushes, room messages) becomes JSON on the way
 * out. Replies carry only the bare method name, so the connection remembers which call each
 * unanswered seqid was, to find the reply's IDL shape.
 */
import * as thrift from 'thrift';
import type { DecodeCaps } from '../shared/thrift/capped';
import { MessageType, peekHeader, type MessageHeader } from '../shared/thrift/header';
import { PLAIN, type IdlShapes, type Shape } from '../shared/thrift/idl-shapes';
import { jsonToCompact, type JsonBodyError, type JsonCall } from '../shared/thrift/json-in';
import { thriftToJson } from '../shared/thrift/json-out';
import { applicationException } from '../shared/thrift/messages';
import { errorReply } from './replies';
import type { SharedPush } from './shared-push';

export const THRIFT_JSON_SUBPROTOCOL = 'thrift-json';

/** Replies are decoded under the caps a service's own client uses for replies. */
const REPLY_CAPS: DecodeCaps = { maxString: 1 << 20, maxContainer: 100_000, maxDepth: 32 };

export interface ThriftJsonLimits {
  maxString: number;
  maxContainer: number;
  maxDepth: number;
  maxMethodName: number;
  /** calls a connection may have unanswered (more are refused BUSY anyway) */
  maxInFlight: number;
}

/** The answer to a JSON call whose body was refused: over a cap in a service's own words, anything else BAD_REQUEST. */
export function refusalReply(header: MessageHeader, refused: JsonBodyError): Buffer {
  if (!refused.cap) return errorReply(header, 'BAD_REQUEST', refused.message);
  const unknown = thrift.Thrift.TApplicationExceptionType.UNKNOWN;
  return applicationException(header.protocol, header.name, header.seqid, unknown, refused.message);
}

export class ThriftJsonCodec {
  /** seqid -> "Service:method" of the calls not answered yet */
  private readonly pending = new Map<number, string>();
  private readonly caps: DecodeCaps;
  private readonly translate = (compact: Buffer): Buffer | undefined => this.toClient(compact);

  constructor(
    private readonly shapes: IdlShapes,
    private readonly limits: ThriftJsonLimits,
  ) {
    this.caps = { maxString: limits.maxString, maxContainer: limits.maxContainer, maxDepth: limits.maxDepth };
  }

  /** A client's JSON message in compact, or the refusal to answer; throws JsonHeaderError. */
  fromClient(bytes: Buffer): JsonCall {
    const call = jsonToCompact(bytes.toString('utf8'), this.caps, this.limits.maxMethodName, (h) =>
      h.type === MessageType.CALL || h.type === MessageType.ONEWAY ? this.shapes.args(h.name) : PLAIN,
    );
    if (call.header.type === MessageType.CALL) this.remember(call.header);
    return call;
  }

  /** A compact or binary message as JSON text; undefined for a push that does not translate (dropped). */
  toClient(message: Buffer): Buffer | undefined {
    try {
      return Buffer.from(thriftToJson(message, REPLY_CAPS, (name, type, seqid) => this.shapeOf(name, type, seqid)));
    } catch (err) {
      let header: MessageHeader;
      try {
        header = peekHeader(message, 0xffff);
      } catch {
        return undefined;
      }
      if (header.type !== MessageType.REPLY && header.type !== MessageType.EXCEPTION) return undefined;
      this.pending.delete(header.seqid);
      const text = `INTERNAL: the reply could not be written as Thrift JSON (${(err as Error).message})`;
      const exception = applicationException(
        'compact',
        header.name,
        header.seqid,
        thrift.Thrift.TApplicationExceptionType.INTERNAL_ERROR,
        text,
      );
      return Buffer.from(thriftToJson(exception, REPLY_CAPS, () => PLAIN));
    }
  }

  /** A push (ONEWAY) in JSON: it depends only on the shapes, so connections with the same shapes share the text. */
  pushToClient(push: SharedPush): Buffer | undefined {
    return push.json(this.shapes, this.translate);
  }

  private remember(header: MessageHeader): void {
    this.pending.delete(header.seqid);
    // bounded: a client that never reads its replies cannot grow it (the oldest is forgotten)
    if (this.pending.size >= 2 * this.limits.maxInFlight) {
      const oldest = this.pending.keys().next();
      if (!oldest.done) this.pending.delete(oldest.value);
    }
    this.pending.set(header.seqid, header.name);
  }

  private shapeOf(name: string, type: thrift.Thrift.MessageType, seqid: number): Shape {
    if (type === MessageType.ONEWAY) return this.shapes.args(name);
    if (type !== MessageType.REPLY && type !== MessageType.EXCEPTION) return PLAIN;
    const call = this.pending.get(seqid);
    this.pending.delete(seqid);
    return type === MessageType.REPLY ? this.shapes.result(call ?? name) : PLAIN;
  }
}
