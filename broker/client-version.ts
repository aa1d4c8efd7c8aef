/**
 * The version gate: a client states its protocol version (`clientProtocol`, field 10 of the
 * calls that open a session) and the broker refuses a session to one older than the cluster's
 * minimum, or one that states none once a minimum is set. It lives at the broker because the
 * broker is the one place every session is opened or resumed through, the minimum is one
 * cluster setting rather than each service's, and a refused client costs no service any work.
 * Only these few calls are decoded (under the decode caps); every other call stays untouched.
 */
import * as thrift from 'thrift';
import type { DecodeCaps } from '../shared/thrift/capped';
import { openMessage } from '../shared/thrift/messages';

/** Sso calls that open or resume a session: each carries `10: optional i32 clientProtocol`. */
export const VERSIONED_LOGINS: ReadonlySet<string> = new Set([
  'Sso:login',
  'Sso:register',
  'Sso:loginDevice',
  'Sso:resume',
]);
export const CLIENT_PROTOCOL_FIELD = 10;

export type VersionVerdict = { ok: true } | { ok: false; code: 'UPGRADE_REQUIRED' | 'BAD_REQUEST'; detail: string };

const OK: VersionVerdict = { ok: true };

/** The version a call states; undefined when it states none. Throws when the arguments do not decode. */
export function statedProtocol(bytes: Buffer, caps: DecodeCaps): number | undefined {
  const { input } = openMessage(bytes, caps);
  input.readMessageBegin();
  input.readStructBegin();
  for (;;) {
    const field = input.readFieldBegin();
    if (field.ftype === thrift.Thrift.Type.STOP) return undefined;
    if (field.fid === CLIENT_PROTOCOL_FIELD && field.ftype === thrift.Thrift.Type.I32) return input.readI32();
    input.skip(field.ftype);
    input.readFieldEnd();
  }
}

/** Whether a call named `name` may go on, with the cluster's minimum (0: no gate). */
export function checkClientProtocol(name: string, bytes: Buffer, minimum: number, caps: DecodeCaps): VersionVerdict {
  if (minimum <= 0 || !VERSIONED_LOGINS.has(name)) return OK;
  let stated: number | undefined;
  try {
    stated = statedProtocol(bytes, caps);
  } catch (err) {
    return {
      ok: false,
      code: 'BAD_REQUEST',
      detail: `${name}: its arguments do not decode (${(err as Error).message})`,
    };
  }
  if (stated !== undefined && stated >= minimum) return OK;
  const said = stated === undefined ? 'states no client protocol version' : `states client protocol ${stated}`;
  return {
    ok: false,
    code: 'UPGRADE_REQUIRED',
    detail: `this client ${said}; this cluster requires at least ${minimum}: update the app`,
  };
}
