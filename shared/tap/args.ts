/**
 * A call's arguments as JSON for the tap: decoded with the generated code under the usual decode
 * caps, with every field the IDL marks sensitive (`(noon.sensitive = "true")`: passwords, tokens,
 * receipts) replaced by "[redacted]" wherever it appears, however deep. Redaction goes by name,
 * so a field of another struct with a sensitive name is hidden too: it errs on the safe side.
 * Methods noon's IDL does not define (a studio's own services) are not decoded.
 */
import Int64 from 'node-int64';
import * as protocol from '../protocol';
import { SENSITIVE_FIELDS } from '../protocol';
import { DEFAULT_CAPS } from '../thrift/capped';
import { openMessage } from '../thrift/messages';

export const REDACTED = '[redacted]';
/** A decoded argument list longer than this (as JSON) is not shown. */
export const MAX_ARGS_JSON = 4096;

type ArgsReader = { read(input: unknown): unknown };

function argsReader(method: string): ArgsReader | undefined {
  const colon = method.indexOf(':');
  if (colon < 1) return undefined;
  const service = method.slice(0, colon);
  const fn = method.slice(colon + 1);
  const mod = Object.hasOwn(protocol, service) ? (protocol as Record<string, unknown>)[service] : undefined;
  const name = `${fn.charAt(0).toUpperCase()}${fn.slice(1)}Args`;
  if (typeof mod !== 'object' || mod === null || !Object.hasOwn(mod, name)) return undefined;
  const reader = (mod as Record<string, unknown>)[name] as Partial<ArgsReader>;
  return typeof reader?.read === 'function' ? (reader as ArgsReader) : undefined;
}

/** A decoded value as plain JSON: i64 as a number when exact (else its decimal string), binary as base64. */
export function toJson(v: unknown, key?: string): unknown {
  if (key !== undefined && SENSITIVE_FIELDS.has(key)) return REDACTED;
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (typeof v !== 'object') return v;
  if (v instanceof Int64) {
    const n = v.toNumber(false);
    return Number.isFinite(n) ? n : BigInt.asIntN(64, BigInt(`0x${v.toOctetString()}`)).toString();
  }
  if (Buffer.isBuffer(v)) return v.toString('base64');
  if (Array.isArray(v) || v instanceof Set) return [...v].map((e) => toJson(e));
  if (v instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, e] of v) out[String(toJson(k))] = toJson(e, String(k));
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const [k, e] of Object.entries(v)) {
    const j = toJson(e, k);
    if (j !== undefined) out[k] = j;
  }
  return out;
}

/**
 * The arguments of one client call (a whole Thrift message, compact or binary) as redacted JSON,
 * or a string saying why there are none: `(not decoded: …)`.
 */
export function decodeArgs(method: string, payload: Buffer): unknown {
  const reader = argsReader(method);
  if (!reader) return '(not decoded: not a method of noon.thrift)';
  try {
    const { input } = openMessage(payload, DEFAULT_CAPS);
    input.readMessageBegin();
    const json = toJson(reader.read(input));
    const text = JSON.stringify(json);
    return text.length > MAX_ARGS_JSON ? `(not shown: ${text.length} characters of JSON)` : json;
  } catch (err) {
    return `(not decoded: ${(err as Error).message})`;
  }
}
