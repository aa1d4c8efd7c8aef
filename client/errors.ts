/**
 * Errors the SDK itself produces (never the broker's or a service's). Broker-made errors arrive
 * as Thrift TApplicationException whose message starts with a code ("BUSY: ..."), game errors as
 * the IDL's GameError; `errorCode()` reads a code from any of the three.
 */
import * as thrift from 'thrift';
import { ErrorCode, GameError } from '../shared/protocol';

export const ClientErrorCodes = {
  /** no reply within the call's deadline: the call may or may not have been applied */
  TIMEOUT: 'TIMEOUT',
  /** the connection dropped while the call was in flight: the outcome is unknown */
  CONNECTION_LOST: 'CONNECTION_LOST',
  /** a local bound was hit (write buffer, calls queued while reconnecting): the call was not sent */
  BUSY: 'BUSY',
  /** close() was called, or reconnecting gave up */
  CLOSED: 'CLOSED',
  /** the peer sent bytes that are not a valid reply; the connection is dropped */
  PROTOCOL: 'PROTOCOL',
  /** BrokerList unreachable, invalid, or lists no usable broker */
  BROKERLIST: 'BROKERLIST',
  /** could not open a connection to a broker */
  CONNECT: 'CONNECT',
} as const;
export type ClientErrorCode = (typeof ClientErrorCodes)[keyof typeof ClientErrorCodes];

export class ClientError extends Error {
  readonly code: ClientErrorCode;
  /** true when the call may have been applied by the server (TIMEOUT, CONNECTION_LOST after send) */
  readonly outcomeUnknown: boolean;
  /** safe to retry as is (the call never left, or it carries an idempotency key: the caller knows) */
  readonly retryable: boolean;
  constructor(
    code: ClientErrorCode,
    message: string,
    opts: { outcomeUnknown?: boolean; retryable?: boolean; cause?: unknown } = {},
  ) {
    super(`${code}: ${message}`, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ClientError';
    this.code = code;
    this.outcomeUnknown = opts.outcomeUnknown ?? false;
    this.retryable = opts.retryable ?? code !== 'CLOSED';
  }
}

const BROKER_CODE_RE = /^([A-Z_]{3,32}): /;

/** The class name of `err`, for errors made by another copy of `thrift` or of the generated code. */
function className(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null
    ? ((err as { constructor?: { name?: unknown } }).constructor?.name as string)
    : undefined;
}

/**
 * The stable code of any error a call can reject with: a ClientError's code, a GameError's
 * ErrorCode name, or the code prefix of a broker's TApplicationException. Undefined otherwise.
 * A GameError or TApplicationException of a studio's own copy of the generated code (or of
 * `thrift`) is recognised by its class name.
 */
export function errorCode(err: unknown): string | undefined {
  if (err instanceof ClientError) return err.code;
  if (err instanceof GameError || (className(err) === 'GameError' && typeof (err as GameError).code === 'number')) {
    const code = (err as GameError).code;
    return code === undefined ? undefined : ErrorCode[code];
  }
  if (err instanceof thrift.Thrift.TApplicationException || className(err) === 'TApplicationException')
    return BROKER_CODE_RE.exec(String((err as Error).message))?.[1];
  return undefined;
}
