/**
 * The trace context a request envelope carries in its `traceId` field. That field is free text
 * (a `str`), so it holds either a W3C traceparent (`00-<32 hex trace id>-<16 hex span id>-<2 hex
 * flags>`, 55 bytes) when spans are exported, or a bare trace id: the 32 hex digits a broker
 * makes, or any other text a caller chose (e.g. `duel-settle-…`). A field that is not a valid
 * traceparent is a bare id, whatever it looks like, so older and foreign peers keep working.
 */
import { randomFillSync } from 'node:crypto';

/** The span a call's next hop is a child of. */
export interface SpanParent {
  /** 32 lower-case hex digits, not all zero */
  traceId: string;
  /** 16 lower-case hex digits, not all zero */
  spanId: string;
  sampled: boolean;
}

/** What a received `traceId` field says: the id to log, and the parent span when there is one. */
export interface TraceField {
  traceId: string;
  parent?: SpanParent;
}

const TRACEPARENT_LENGTH = 55;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);

// Random ids drawn from a pool filled 256 ids at a time: one call into the CSPRNG per 256 calls.
const POOL_IDS = 256;
const pool = Buffer.allocUnsafe(16 * POOL_IDS);
let nextId = POOL_IDS;

/** A new random trace id: 32 lower-case hex digits, never all zero (W3C trace-id). */
export function newTraceId(): string {
  for (;;) {
    if (nextId === POOL_IDS) {
      randomFillSync(pool);
      nextId = 0;
    }
    const at = 16 * nextId++;
    const id = pool.toString('hex', at, at + 16);
    if (id !== ZERO_TRACE_ID) return id;
  }
}

/** The W3C traceparent (version 00) naming `p` as the parent of the next hop. */
export function formatTraceparent(p: SpanParent): string {
  return `00-${p.traceId}-${p.spanId}-${p.sampled ? '01' : '00'}`;
}

function isLowerHex(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/**
 * The parent a W3C traceparent names, or undefined when `s` is not one. Versions above 00 are
 * read as 00 (their first four fields are the same; anything after them starts with '-'), as the
 * W3C specification asks; version ff is invalid.
 */
export function parseTraceparent(s: string): SpanParent | undefined {
  if (s.length < TRACEPARENT_LENGTH || s[2] !== '-' || s[35] !== '-' || s[52] !== '-') return undefined;
  if (!isLowerHex(s, 0, 2) || !isLowerHex(s, 3, 35) || !isLowerHex(s, 36, 52) || !isLowerHex(s, 53, 55))
    return undefined;
  const version = s.slice(0, 2);
  if (version === 'ff') return undefined;
  if (version === '00' ? s.length !== TRACEPARENT_LENGTH : s.length > TRACEPARENT_LENGTH && s[55] !== '-')
    return undefined;
  const traceId = s.slice(3, 35);
  const spanId = s.slice(36, 52);
  if (traceId === ZERO_TRACE_ID || spanId === ZERO_SPAN_ID) return undefined;
  return { traceId, spanId, sampled: (parseInt(s.slice(53, 55), 16) & 1) === 1 };
}

/** Reads a request envelope's `traceId` field (a traceparent, or a bare id). */
export function parseTraceField(field: string): TraceField {
  const parent = parseTraceparent(field);
  return parent ? { traceId: parent.traceId, parent } : { traceId: field };
}
