/**
 * The ZeroMQ frame codec between brokers and services: the only place that knows the layout.
 *
 * One ZeroMQ message = [TAG, header1, payload1, header2, payload2, ...]: calls, replies and pushes
 * bound for the same peer within one event-loop turn travel together and are split on arrival
 * (zeromq.js's per-message cost dominates this hop). TAG versions the layout, so a peer speaking
 * another version is a clear error, not garbage. Payloads are Thrift message bytes, untouched.
 */
import { NoonError } from '../errors';
import { ByteReader, ByteWriter, FrameError } from './bytes';

export { FrameError };
export const FRAME_TAG = Buffer.from('noon/2');
/** Upper bound of one decoded batch: more envelopes than this in a message is hostile. */
export const MAX_BATCH = 4096;

export const Kind = { REQUEST: 1, REPLY: 2, PUSH: 3, ROOM: 4 } as const;

/** Control directives a service gives the broker, in a reply or a push. */
export type Directive =
  | { type: 'auth'; sessionId: string; userId: string; username: string }
  | { type: 'logout' }
  | { type: 'bind'; service: string; instanceId: string; sessionId: string }
  | { type: 'unbind'; service: string; sessionId: string }
  | { type: 'subscribe'; topic: string; instanceId: string }
  | { type: 'unsubscribe'; topic: string }
  /**
   * subscribe the caller's connection to a channel topic with a filter the broker evaluates;
   * messages after `afterSeq` (the channel's last seq when the subscription was made) are its own
   */
  | { type: 'channel'; topic: string; instanceId: string; filter: string; afterSeq: number }
  /** close the session's connections on this broker (after the push's payload is delivered) */
  | { type: 'close'; reason: string };

export interface RequestEnvelope {
  kind: 'request';
  /** unique per sender; the reply carries it back */
  requestId: number;
  /** ms left until the caller gives up (relative: clocks of two hosts differ) */
  timeoutMs: number;
  sessionId: string;
  userId: string;
  /** the session's display name ('' before login) */
  username: string;
  /** "Service:method" */
  method: string;
  /** instance id of the broker holding the caller's connection (nested calls keep it): where pushes for the session go */
  via: string;
  /** follows the call through every service it reaches, for logs */
  traceId: string;
  /**
   * the id the client gave this call, unique within its session and kept when the client retries
   * it (docs/retries.md); absent for clients that give none and for nested calls. Encoded only
   * when present, after traceId.
   */
  clientRequestId?: string;
  /**
   * who sent it, proven (rpc/caller-proof.ts): the sender's public key and a proof only the
   * holder of its secret (or the receiver) can make. Sent when keys are on; encoded after
   * clientRequestId ('' when there is none).
   */
  caller?: CallerProof;
  payload: Buffer;
}

/** A sender's public key (Z85) and its proof for the receiving server's key (hex). */
export interface CallerProof {
  key: string;
  proof: string;
}

export interface ReplyEnvelope {
  kind: 'reply';
  requestId: number;
  /** set when the framework (not the Thrift handler) failed the call; payload is then empty */
  error?: NoonError;
  directives: Directive[];
  payload: Buffer;
}

export interface PushEnvelope {
  kind: 'push';
  /** target session; '' for directives-only pushes */
  sessionId: string;
  directives: Directive[];
  /** a Thrift ONEWAY message of service Events, seqid 0 */
  payload: Buffer;
}

/** A room message on a service's PUB socket, numbered by the room's owner. */
export interface RoomEnvelope {
  kind: 'room';
  topic: string;
  seq: number;
  payload: Buffer;
}

export type Envelope = RequestEnvelope | ReplyEnvelope | PushEnvelope | RoomEnvelope;

const DirectiveCode = {
  auth: 1,
  logout: 2,
  bind: 3,
  unbind: 4,
  subscribe: 5,
  unsubscribe: 6,
  close: 7,
  channel: 8,
} as const;
const MAX_DIRECTIVES = 16;

function writeDirectives(w: ByteWriter, ds: Directive[]): void {
  // The encoder refuses what every decoder would: one bad envelope must not poison its batch.
  if (ds.length > MAX_DIRECTIVES) throw new FrameError(`${ds.length} directives exceed the limit ${MAX_DIRECTIVES}`);
  w.u8(ds.length);
  for (const d of ds) {
    w.u8(DirectiveCode[d.type]);
    switch (d.type) {
      case 'auth':
        w.str(d.sessionId).str(d.userId).str(d.username);
        break;
      case 'logout':
        break;
      case 'bind':
        w.str(d.service).str(d.instanceId).str(d.sessionId);
        break;
      case 'unbind':
        w.str(d.service).str(d.sessionId);
        break;
      case 'subscribe':
        w.str(d.topic).str(d.instanceId);
        break;
      case 'unsubscribe':
        w.str(d.topic);
        break;
      case 'close':
        w.str(d.reason);
        break;
      case 'channel':
        w.str(d.topic)
          .str(d.instanceId)
          .str(d.filter)
          .u32(Math.floor(d.afterSeq / 0x100000000))
          .u32(d.afterSeq >>> 0);
        break;
    }
  }
}

function readDirective(r: ByteReader): Directive {
  const code = r.u8();
  switch (code) {
    case 1:
      return { type: 'auth', sessionId: r.str(), userId: r.str(), username: r.str() };
    case 2:
      return { type: 'logout' };
    case 3:
      return { type: 'bind', service: r.str(), instanceId: r.str(), sessionId: r.str() };
    case 4:
      return { type: 'unbind', service: r.str(), sessionId: r.str() };
    case 5:
      return { type: 'subscribe', topic: r.str(), instanceId: r.str() };
    case 6:
      return { type: 'unsubscribe', topic: r.str() };
    case 7:
      return { type: 'close', reason: r.str() };
    case 8:
      return {
        type: 'channel',
        topic: r.str(),
        instanceId: r.str(),
        filter: r.str(),
        afterSeq: r.u32() * 0x100000000 + r.u32(),
      };
    default:
      throw new FrameError(`unknown directive ${code}`);
  }
}

function readDirectives(r: ByteReader): Directive[] {
  const n = r.u8();
  if (n > MAX_DIRECTIVES) throw new FrameError(`${n} directives exceed the limit ${MAX_DIRECTIVES}`);
  const out: Directive[] = [];
  for (let i = 0; i < n; i++) out.push(readDirective(r));
  return out;
}

export function encodeHeader(e: Envelope): Buffer {
  const w = new ByteWriter();
  switch (e.kind) {
    case 'request':
      w.u8(Kind.REQUEST)
        .u32(e.requestId)
        .u32(e.timeoutMs)
        .str(e.sessionId)
        .str(e.userId)
        .str(e.username)
        .str(e.method)
        .str(e.via)
        .str(e.traceId);
      if (e.clientRequestId || e.caller) w.str(e.clientRequestId ?? '');
      if (e.caller) w.str(e.caller.key).str(e.caller.proof);
      break;
    case 'reply':
      w.u8(Kind.REPLY)
        .u32(e.requestId)
        .str(e.error ? JSON.stringify(e.error.toJSON()) : '');
      writeDirectives(w, e.directives);
      break;
    case 'push':
      w.u8(Kind.PUSH).str(e.sessionId);
      writeDirectives(w, e.directives);
      break;
    case 'room':
      w.u8(Kind.ROOM)
        .str(e.topic)
        .u32(Math.floor(e.seq / 0x100000000))
        .u32(e.seq >>> 0);
      break;
  }
  return w.done();
}

function decodeError(json: string): NoonError | undefined {
  if (json === '') return undefined;
  try {
    return NoonError.fromJSON(JSON.parse(json));
  } catch {
    throw new FrameError('reply error is not JSON');
  }
}

export function decodeEnvelope(header: Buffer, payload: Buffer): Envelope {
  const r = new ByteReader(header, 'frame header');
  const kind = r.u8();
  let e: Envelope;
  switch (kind) {
    case Kind.REQUEST: {
      const req: RequestEnvelope = {
        kind: 'request',
        requestId: r.u32(),
        timeoutMs: r.u32(),
        sessionId: r.str(),
        userId: r.str(),
        username: r.str(),
        method: r.str(),
        via: r.str(),
        traceId: r.str(),
        payload,
      };
      // optional trailing fields: a header without them is the original layout
      if (r.more()) {
        const clientRequestId = r.str();
        if (clientRequestId !== '') req.clientRequestId = clientRequestId;
      }
      if (r.more()) req.caller = { key: r.str(), proof: r.str() };
      e = req;
      break;
    }
    case Kind.REPLY: {
      const requestId = r.u32();
      const error = decodeError(r.str());
      e = { kind: 'reply', requestId, directives: readDirectives(r), payload, ...(error ? { error } : {}) };
      break;
    }
    case Kind.PUSH:
      e = { kind: 'push', sessionId: r.str(), directives: readDirectives(r), payload };
      break;
    case Kind.ROOM:
      e = { kind: 'room', topic: r.str(), seq: r.u32() * 0x100000000 + r.u32(), payload };
      break;
    default:
      throw new FrameError(`unknown envelope kind ${kind}`);
  }
  r.end();
  return e;
}

/**
 * Frames of one ZeroMQ message carrying these envelopes (no routing identity): the tag, then one
 * frame packing every envelope as [u16 header length][header][u32 payload length][payload].
 * One frame, not two per envelope: zeromq.js's cost is per frame as much as per message.
 */
export function encodeBatch(envelopes: readonly Envelope[]): Buffer[] {
  const headers = envelopes.map(encodeHeader);
  for (const h of headers)
    if (h.length > 0xffff) throw new FrameError(`a header of ${h.length} bytes exceeds the u16 length limit`);
  let size = 0;
  for (let i = 0; i < envelopes.length; i++)
    size += 6 + (headers[i] as Buffer).length + (envelopes[i] as Envelope).payload.length;
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  for (let i = 0; i < envelopes.length; i++) {
    const h = headers[i] as Buffer;
    const p = (envelopes[i] as Envelope).payload;
    out.writeUInt16BE(h.length, pos);
    h.copy(out, pos + 2);
    pos += 2 + h.length;
    out.writeUInt32BE(p.length, pos);
    p.copy(out, pos + 4);
    pos += 4 + p.length;
  }
  return [FRAME_TAG, out];
}

/**
 * Splits a received message (without routing identity) into envelopes. Throws FrameError on a
 * wrong tag, a wrong frame count, or any malformed header or length: the caller logs and drops
 * the message. Payloads are views into the received frame (no copy).
 */
export function decodeBatch(frames: readonly Buffer[], maxPayload: number): Envelope[] {
  const tag = frames[0];
  if (tag === undefined || !tag.equals(FRAME_TAG)) {
    throw new FrameError(
      `bad protocol tag ${tag === undefined ? '(none)' : JSON.stringify(tag.subarray(0, 16).toString('latin1'))}, expected ${FRAME_TAG.toString()}`,
    );
  }
  if (frames.length !== 2) throw new FrameError(`${frames.length} frames: expected the tag and one batch frame`);
  const body = frames[1] as Buffer;
  const out: Envelope[] = [];
  let pos = 0;
  while (pos < body.length) {
    if (out.length >= MAX_BATCH) throw new FrameError(`more than ${MAX_BATCH} envelopes in one message`);
    if (pos + 2 > body.length) throw new FrameError('batch truncated in a header length');
    const hlen = body.readUInt16BE(pos);
    const hend = pos + 2 + hlen;
    if (hend + 4 > body.length) throw new FrameError(`header of ${hlen} bytes runs past the batch`);
    const plen = body.readUInt32BE(hend);
    if (plen > maxPayload) throw new FrameError(`payload of ${plen} bytes exceeds the limit ${maxPayload}`);
    const pend = hend + 4 + plen;
    if (pend > body.length) throw new FrameError(`payload of ${plen} bytes runs past the batch`);
    out.push(decodeEnvelope(body.subarray(pos + 2, hend), body.subarray(hend + 4, pend)));
    pos = pend;
  }
  if (out.length === 0) throw new FrameError('empty batch');
  return out;
}
