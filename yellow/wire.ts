/**
 * Yellow's control protocol, version 1.
 *
 * ROUTER/DEALER, multipart: frame 0 is the tag `noon-yellow/1`, frame 1 is one JSON object.
 * Every request carries `op` and `rid` (request id, chosen by the sender); the reply echoes `rid`
 * and is `{ rid, ok: true, ...body }` or `{ rid, ok: false, error: { code, message, retryable } }`.
 * PUB events are two frames: topic `ev` and a JSON `YellowEvent`.
 *
 * Control traffic is low rate, so JSON is fine; the 64 KiB cap bounds what one peer can make
 * Yellow parse.
 */
import { NoonError } from '../shared/errors';
import type { RegistryFilter } from './registry';
import type { InstanceLoad, InstanceRecord, InstanceRegistration, YellowEvent } from './types';
import { isObject, validateLoad, validateRecord, validateRegistration } from './validate';

export const PROTOCOL_TAG = 'noon-yellow/1';
export const EVENT_TOPIC = 'ev';
/** Largest request or event (bytes, all frames): bounds what one peer can make Yellow parse. */
export const MAX_MESSAGE_BYTES = 64 * 1024;
/**
 * Largest reply a client accepts: a `query` answer lists every instance (a service record with
 * long method lists is a few KiB), so it may be far above the request cap.
 */
export const MAX_REPLY_BYTES = 16 * 1024 * 1024;
/** Largest PUB event: an `up` event is a registration (under the request cap) plus a few fields. */
export const MAX_EVENT_BYTES = 2 * MAX_MESSAGE_BYTES;

export type Rid = number | string;

export type YellowRequest =
  | { op: 'register'; rid: Rid; reg: InstanceRegistration }
  | { op: 'heartbeat'; rid: Rid; instanceId: string; load: InstanceLoad; stalledMs?: number }
  | { op: 'deregister'; rid: Rid; instanceId: string }
  | { op: 'drain'; rid: Rid; instanceId: string; draining: boolean }
  | { op: 'query'; rid: Rid; filter?: RegistryFilter }
  | { op: 'hello'; rid: Rid };

export type Op = YellowRequest['op'];

/** What each op answers with, besides `rid` and `ok`. */
export interface ReplyBodies {
  register: { epoch: number };
  /** draining: the operator's flag on this instance, so it can re-assert it to a restarted Yellow */
  heartbeat: { status: 'ok' | 'unknown'; draining?: boolean };
  deregister: { found: boolean };
  drain: { found: boolean };
  /**
   * startedAt lets a watcher notice a restarted Yellow (and ask `hello` for its new PUB); version
   * is the table version the answer reflects (the `v` of the last change in it; -1 from a Yellow
   * that predates versions)
   */
  query: { instances: InstanceRecord[]; warmingUp: boolean; startedAt: number; version: number };
  hello: { pub: string; startedAt: number; warmingUp: boolean; version: number };
}

export type WireError = { code: string; message: string; retryable: boolean };
export type YellowReply =
  { rid: Rid; ok: true; body: Record<string, unknown> } | { rid: Rid; ok: false; error: WireError };

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string; rid?: Rid };

const OPS: ReadonlySet<string> = new Set<Op>(['register', 'heartbeat', 'deregister', 'drain', 'query', 'hello']);

function totalBytes(frames: readonly Buffer[]): number {
  return frames.reduce((n, f) => n + f.length, 0);
}

/** Checks tag, frame count and size, then parses frame 1 as a JSON object. */
function openEnvelope(frames: readonly Buffer[], maxBytes: number): Decoded<Record<string, unknown>> {
  if (frames.length !== 2) return { ok: false, reason: `expected 2 frames, got ${frames.length}` };
  if (totalBytes(frames) > maxBytes) return { ok: false, reason: `message larger than ${maxBytes} bytes` };
  const [tag, body] = frames as [Buffer, Buffer];
  if (tag.toString('latin1') !== PROTOCOL_TAG) {
    return { ok: false, reason: `bad protocol tag ${JSON.stringify(tag.toString('latin1').slice(0, 32))}` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return { ok: false, reason: 'frame 1 is not JSON' };
  }
  if (!isObject(parsed)) return { ok: false, reason: 'frame 1 is not a JSON object' };
  return { ok: true, value: parsed };
}

function ridOf(v: unknown): Rid | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  if (typeof v === 'string' && v.length > 0 && v.length <= 64) return v;
  return undefined;
}

function idField(o: Record<string, unknown>): string {
  const v = o.instanceId;
  if (typeof v !== 'string' || v.length === 0 || v.length > 128)
    throw new NoonError('BAD_REQUEST', 'instanceId must be a string of 1..128 characters');
  return v;
}

function stalledField(v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > 1e9)
    throw new NoonError('BAD_REQUEST', 'stalledMs must be an integer 0..1000000000');
  return v;
}

function versionOf(v: unknown): number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : -1;
}

function filterField(v: unknown): RegistryFilter | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw new NoonError('BAD_REQUEST', 'filter must be an object');
  const out: RegistryFilter = {};
  for (const key of ['role', 'service'] as const) {
    const f = v[key];
    if (f === undefined) continue;
    if (typeof f !== 'string' || f.length > 128) throw new NoonError('BAD_REQUEST', `filter.${key} must be a string`);
    out[key] = f;
  }
  return out;
}

function buildRequest(op: Op, rid: Rid, o: Record<string, unknown>): YellowRequest {
  switch (op) {
    case 'register':
      return { op, rid, reg: validateRegistration(o.reg) };
    case 'heartbeat': {
      const beat = { op, rid, instanceId: idField(o), load: validateLoad(o.load) };
      return o.stalledMs === undefined ? beat : { ...beat, stalledMs: stalledField(o.stalledMs) };
    }
    case 'deregister':
      return { op, rid, instanceId: idField(o) };
    case 'drain':
      if (typeof o.draining !== 'boolean') throw new NoonError('BAD_REQUEST', 'draining must be a boolean');
      return { op, rid, instanceId: idField(o), draining: o.draining };
    case 'query': {
      const filter = filterField(o.filter);
      return filter ? { op, rid, filter } : { op, rid };
    }
    case 'hello':
      return { op, rid };
  }
}

/**
 * Decodes a request (frames after the ROUTER's routing id). A failure carries `rid` when the
 * message was well-formed enough to answer; otherwise the caller should just drop it.
 */
export function decodeRequest(frames: readonly Buffer[]): Decoded<YellowRequest> {
  const env = openEnvelope(frames, MAX_MESSAGE_BYTES);
  if (!env.ok) return env;
  const o = env.value;
  const rid = ridOf(o.rid);
  if (rid === undefined) return { ok: false, reason: 'missing or bad rid' };
  if (typeof o.op !== 'string' || !OPS.has(o.op)) {
    return { ok: false, rid, reason: `unknown op ${JSON.stringify(String(o.op).slice(0, 32))}` };
  }
  try {
    return { ok: true, value: buildRequest(o.op as Op, rid, o) };
  } catch (e) {
    // The reason is wrapped in a BAD_REQUEST by the server: a NoonError's own code prefix goes.
    const reason =
      e instanceof NoonError ? e.message.slice(e.code.length + 2) : e instanceof Error ? e.message : String(e);
    return { ok: false, rid, reason };
  }
}

export function encodeRequest(req: YellowRequest): [string, string] {
  return [PROTOCOL_TAG, JSON.stringify(req)];
}

export function encodeOk<O extends Op>(rid: Rid, body: ReplyBodies[O]): [string, string] {
  return [PROTOCOL_TAG, JSON.stringify({ ...body, rid, ok: true })];
}

export function encodeError(rid: Rid, err: NoonError): [string, string] {
  return [PROTOCOL_TAG, JSON.stringify({ rid, ok: false, error: err.toJSON() })];
}

/** Decodes a reply on the DEALER side; the body is checked per op by `parseBody`. */
export function decodeReply(frames: readonly Buffer[]): Decoded<YellowReply> {
  const env = openEnvelope(frames, MAX_REPLY_BYTES);
  if (!env.ok) return env;
  const { rid: rawRid, ok, error, ...body } = env.value;
  const rid = ridOf(rawRid);
  if (rid === undefined) return { ok: false, reason: 'reply without rid' };
  if (ok === true) return { ok: true, value: { rid, ok: true, body } };
  const e = isObject(error) ? error : {};
  const wire: WireError = {
    code: typeof e.code === 'string' ? e.code : 'INTERNAL',
    message: typeof e.message === 'string' ? e.message : 'remote error',
    retryable: e.retryable === true,
  };
  return { ok: true, value: { rid, ok: false, error: wire } };
}

function bad(op: Op, what: string): never {
  throw new NoonError('PROTOCOL', `Yellow ${op} reply: ${what}`);
}

/** Checks a successful reply's body for `op`; throws NoonError PROTOCOL if it is malformed. */
export function parseBody<O extends Op>(op: O, body: Record<string, unknown>): ReplyBodies[O] {
  const b = body;
  switch (op) {
    case 'register':
      if (typeof b.epoch !== 'number') bad(op, 'epoch missing');
      return { epoch: b.epoch } as ReplyBodies[O];
    case 'heartbeat':
      if (b.status !== 'ok' && b.status !== 'unknown') bad(op, 'bad status');
      return (
        typeof b.draining === 'boolean' ? { status: b.status, draining: b.draining } : { status: b.status }
      ) as ReplyBodies[O];
    case 'deregister':
    case 'drain':
      return { found: b.found === true } as ReplyBodies[O];
    case 'query':
      if (!Array.isArray(b.instances)) bad(op, 'instances missing');
      return {
        instances: b.instances.map((r) => validateRecord(r)),
        warmingUp: b.warmingUp === true,
        startedAt: typeof b.startedAt === 'number' ? b.startedAt : 0,
        version: versionOf(b.version),
      } as ReplyBodies[O];
    case 'hello':
      if (typeof b.pub !== 'string' || !/^tcp:\/\/.+:\d+$/.test(b.pub)) bad(op, 'pub endpoint missing');
      return {
        pub: b.pub,
        startedAt: typeof b.startedAt === 'number' ? b.startedAt : 0,
        warmingUp: b.warmingUp === true,
        version: versionOf(b.version),
      } as ReplyBodies[O];
  }
  return bad(op, 'unknown op');
}

export function encodeEvent(ev: YellowEvent): [string, string] {
  return [EVENT_TOPIC, JSON.stringify(ev)];
}

/** Decodes a PUB event; returns undefined for anything malformed (a watcher just skips it). */
export function decodeEvent(frames: readonly Buffer[]): YellowEvent | undefined {
  if (frames.length !== 2 || totalBytes(frames) > MAX_EVENT_BYTES) return undefined;
  const [topic, body] = frames as [Buffer, Buffer];
  if (topic.toString('latin1') !== EVENT_TOPIC) return undefined;
  try {
    const v: unknown = JSON.parse(body.toString('utf8'));
    if (!isObject(v)) return undefined;
    const ev = eventOf(v);
    if (!ev || v.v === undefined) return ev;
    const version = versionOf(v.v);
    return version < 0 ? undefined : { ...ev, v: version };
  } catch {
    return undefined;
  }
}

function eventOf(v: Record<string, unknown>): YellowEvent | undefined {
  const id = typeof v.instanceId === 'string' ? v.instanceId : undefined;
  switch (v.type) {
    case 'tick':
      return typeof v.startedAt === 'number' && Number.isFinite(v.startedAt)
        ? { type: 'tick', startedAt: v.startedAt }
        : undefined;
    case 'up':
      return { type: 'up', instance: validateRecord(v.instance) };
    case 'down':
      if (id === undefined || (v.reason !== 'expired' && v.reason !== 'deregistered')) return undefined;
      return { type: 'down', instanceId: id, role: typeof v.role === 'string' ? v.role : '', reason: v.reason };
    case 'load':
      return id === undefined ? undefined : { type: 'load', instanceId: id, load: validateLoad(v.load) };
    case 'draining':
      return id === undefined || typeof v.draining !== 'boolean'
        ? undefined
        : { type: 'draining', instanceId: id, draining: v.draining };
    default:
      return undefined;
  }
}
