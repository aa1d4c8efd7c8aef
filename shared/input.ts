/**
 * Input checks every service gets for free: text a database cannot store. Postgres refuses a NUL
 * character in a `text` value and bytes that are not UTF-8 (which includes UTF-8-encoded UTF-16
 * surrogates), and answers each such call with an error the handler did not expect. The RPC layer
 * refuses such strings where it decodes a request (`strictText` in shared/thrift/capped.ts), so
 * neither a handler nor the database ever sees them; `binary` fields are not checked.
 */
import * as bufferModule from 'buffer';

/**
 * Node's native UTF-8 check (this runs on every decoded string of every request); the browser
 * build's `buffer` package has none, so there a fatal TextDecoder does the same job.
 */
const nativeIsUtf8 = (bufferModule as { isUtf8?: (b: Uint8Array) => boolean }).isUtf8;
const strictDecoder = typeof TextDecoder === 'function' ? new TextDecoder('utf-8', { fatal: true }) : undefined;
function isUtf8(bytes: Uint8Array): boolean {
  if (nativeIsUtf8) return nativeIsUtf8(bytes);
  try {
    strictDecoder?.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Why these UTF-8 bytes are not storable text, or undefined when they are. */
export function textBytesProblem(bytes: Uint8Array): string | undefined {
  if (bytes.length === 0) return undefined;
  if (bytes.includes(0)) return 'contains a NUL character';
  if (!isUtf8(bytes)) return 'is not valid UTF-8';
  return undefined;
}

/** A lone UTF-16 surrogate: a high one not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why this string is not storable text (a NUL, a lone surrogate), or undefined when it is. */
export function textProblem(s: string): string | undefined {
  if (s.includes('\u0000')) return 'contains a NUL character';
  if (LONE_SURROGATE.test(s)) return 'contains an unpaired UTF-16 surrogate';
  return undefined;
}
