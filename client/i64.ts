/**
 * The SDK's rule for Thrift i64 and enums (docs/clients.md, "TypeScript and the browser").
 *
 * i64, values the SDK returns: with `i64: 'bigint'` (the browser build's default; the Node
 * SDK's option, off by default for compatibility) every i64 in a reply, a rejection's fields, a
 * push and `session` is converted, deeply, to a `bigint`: `(await c.player.getWallet()).soft`
 * is `1000n`. With `i64: 'int64'` they stay node-int64 objects, as the generated code makes them.
 *
 * i64, arguments: a `bigint`, a safe-integer `number` or an `Int64` is accepted anywhere an i64
 * goes, in either mode: the SDK's protocol writes all three. The generated struct constructors
 * are typed `number | Int64` only, so in TypeScript wrap a bigint there with `i64(x)`:
 * `new BuyRequest({ receiptId, currency: Currency.SOFT, amount: i64(250n) })`.
 *
 * Enums stay numbers, as on the wire; `enumName(Currency, w.currency)` is `'SOFT'`.
 */
import Int64 from 'node-int64';
import type * as thrift from 'thrift';

const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

/** How i64 values reach app code: native bigints, or the generated code's node-int64 objects. */
export type I64Mode = 'bigint' | 'int64';

/** What an i64 argument may be given as. */
export type I64Input = bigint | number | Int64;

/** An Int64 of this or any other copy of node-int64 (a studio's bundle may carry its own). */
export function isInt64(v: unknown): v is Int64 {
  if (v instanceof Int64) return true;
  if (typeof v !== 'object' || v === null) return false;
  const o = v as { buffer?: unknown; offset?: unknown; toOctetString?: unknown };
  return o.buffer instanceof Uint8Array && typeof o.offset === 'number' && typeof o.toOctetString === 'function';
}

/** The exact value of an Int64 (two's complement, big-endian, as node-int64 stores it). */
export function toBigInt(v: Int64): bigint {
  const b = v.buffer as Uint8Array;
  const o = v.offset ?? 0;
  const hi =
    ((b[o] as number) << 24) | ((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number);
  const lo =
    (b[o + 4] as number) * 0x1000000 +
    (((b[o + 5] as number) << 16) | ((b[o + 6] as number) << 8) | (b[o + 7] as number));
  return (BigInt(hi) << 32n) + BigInt(lo);
}

/**
 * An Int64 from a bigint, a safe-integer number or a decimal string (an Int64 is returned as
 * is). Throws a RangeError outside the signed 64-bit range, or for an unsafe number.
 */
export function i64(v: I64Input | string): Int64 {
  if (isInt64(v)) return v;
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v))
      throw new RangeError(`${v} is not a safe integer: give an i64 beyond 2^53 as a bigint`);
    return new Int64(v);
  }
  const big = typeof v === 'bigint' ? v : BigInt(v);
  if (big < I64_MIN || big > I64_MAX) throw new RangeError(`${big} is outside the signed 64-bit range`);
  const u = BigInt.asUintN(64, big);
  return new Int64(Number(u >> 32n), Number(u & 0xffffffffn));
}

/** What a protocol's writeI64 gets: bigints become Int64s, numbers and Int64s go through as they are. */
export function writableI64(v: unknown): number | Int64 {
  return typeof v === 'bigint' ? i64(v) : (v as number | Int64);
}

type ProtocolClass = new (trans: thrift.TTransport) => thrift.TProtocol;

/** `base` whose writeI64 also takes a bigint (what every SDK client writes with). */
export function bigintWrites(base: ProtocolClass): ProtocolClass {
  return class BigintWrites extends base {
    override writeI64(v: number | Int64): void {
      super.writeI64(writableI64(v));
    }
  };
}

/** `T` with every Int64 in it, at any depth, as a bigint: the type of what `bigints()` returns. */
export type Bigints<T> = T extends Int64
  ? bigint
  : T extends Uint8Array
    ? T
    : T extends (...args: never[]) => unknown
      ? T
      : T extends ReadonlyArray<infer U>
        ? Bigints<U>[]
        : T extends Map<infer K, infer V>
          ? Map<Bigints<K>, Bigints<V>>
          : T extends Set<infer U>
            ? Set<Bigints<U>>
            : T extends object
              ? { [K in keyof T]: Bigints<T[K]> }
              : T;

/** An argument list whose i64 (at any depth) may also be given as a bigint or a number. */
export type I64Params<A extends unknown[]> = { [I in keyof A]: I64Arg<A[I]> };
export type I64Arg<T> = T extends Int64
  ? I64Input
  : T extends Uint8Array
    ? T
    : T extends (...args: never[]) => unknown
      ? T
      : T extends ReadonlyArray<infer U>
        ? I64Arg<U>[]
        : T extends Map<infer K, infer V>
          ? Map<I64Arg<K>, I64Arg<V>>
          : T extends Set<infer U>
            ? Set<I64Arg<U>>
            : T extends object
              ? { [K in keyof T]: I64Arg<T[K]> }
              : T;

const MAX_DEPTH = 64;

function convert(v: unknown, depth: number): unknown {
  if (typeof v !== 'object' || v === null) return v;
  if (isInt64(v)) return toBigInt(v);
  if (depth >= MAX_DEPTH || ArrayBuffer.isView(v)) return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = convert(v[i], depth + 1);
    return v;
  }
  if (v instanceof Map) {
    const entries = [...(v as Map<unknown, unknown>)];
    v.clear();
    for (const [k, x] of entries) v.set(convert(k, depth + 1), convert(x, depth + 1));
    return v;
  }
  if (v instanceof Set) {
    const items = [...(v as Set<unknown>)];
    v.clear();
    for (const x of items) v.add(convert(x, depth + 1));
    return v;
  }
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) o[k] = convert(o[k], depth + 1);
  return v;
}

/**
 * Every Int64 in `v`, at any depth (struct fields, lists, sets, map keys and values), replaced by
 * its bigint. Works in place on what it is given (decoded replies belong to the caller) and keeps
 * each struct's class; running it twice changes nothing.
 */
export function bigints<T>(v: T): Bigints<T> {
  return convert(v, 0) as Bigints<T>;
}

/**
 * The name of an enum value (`enumName(Currency, 1)` is `'SOFT'`), from the generated enum's
 * reverse mapping; undefined for a number the enum does not have (e.g. one added to the IDL
 * after this client was generated).
 */
export function enumName<E extends Record<string, string | number>>(
  e: E,
  value: number | null | undefined,
): Extract<keyof E, string> | undefined {
  if (typeof value !== 'number') return undefined;
  const name = (e as Record<number, unknown>)[value];
  return typeof name === 'string' && e[name] === value ? (name as Extract<keyof E, string>) : undefined;
}
