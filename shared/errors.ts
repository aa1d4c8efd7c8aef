/**
 * One error type for everything that crosses a process: a stable code from one catalog, a
 * retryable flag and a detail. It is serialised into ZeroMQ frames and rebuilt on the caller's
 * side; only the edge turns it into what a client sees (TApplicationException or GameError).
 */
export const ErrorCodes = {
  BAD_REQUEST: 'BAD_REQUEST',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  UNKNOWN_METHOD: 'UNKNOWN_METHOD',
  RATE_LIMITED: 'RATE_LIMITED',
  BUSY: 'BUSY',
  TIMEOUT: 'TIMEOUT',
  UNAVAILABLE: 'UNAVAILABLE',
  STATE_LOST: 'STATE_LOST',
  TOO_LARGE: 'TOO_LARGE',
  UPGRADE_REQUIRED: 'UPGRADE_REQUIRED',
  PROTOCOL: 'PROTOCOL',
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

const RETRYABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['BUSY', 'TIMEOUT', 'UNAVAILABLE', 'RATE_LIMITED']);

export class NoonError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  constructor(code: ErrorCode, message: string, retryable = RETRYABLE.has(code)) {
    super(`${code}: ${message}`);
    this.name = 'NoonError';
    this.code = code;
    this.retryable = retryable;
  }

  toJSON(): { code: ErrorCode; message: string; retryable: boolean } {
    return { code: this.code, message: this.message, retryable: this.retryable };
  }

  /** Rebuilds an error that crossed the wire; an unknown code becomes INTERNAL, never a crash. */
  static fromJSON(value: unknown): NoonError {
    const v = (value ?? {}) as { code?: unknown; message?: unknown; retryable?: unknown };
    const code = Object.values(ErrorCodes).includes(v.code as ErrorCode) ? (v.code as ErrorCode) : 'INTERNAL';
    const raw = typeof v.message === 'string' ? v.message : 'remote error';
    const message = raw.startsWith(`${code}: `) ? raw.slice(code.length + 2) : raw;
    return new NoonError(code, message, v.retryable === true);
  }
}

const CODE_PREFIX = /^([A-Z_]+): /;

/**
 * The NoonError a nested call's failure stands for. A service calling another through its
 * generated client gets the callee's framework error as a Thrift TApplicationException whose
 * message starts with the code (`UNAVAILABLE: Player:getWallet: database unavailable`); rebuilt
 * here, it keeps its code through the outer call instead of turning into INTERNAL.
 */
export function noonErrorOfNested(err: unknown): NoonError | undefined {
  if (
    !(err instanceof Error) ||
    (err.name !== 'TApplicationException' && err.constructor?.name !== 'TApplicationException')
  )
    return undefined;
  const code = CODE_PREFIX.exec(err.message)?.[1];
  if (code === undefined || !Object.values(ErrorCodes).includes(code as ErrorCode)) return undefined;
  return new NoonError(code as ErrorCode, err.message.slice(code.length + 2));
}

export function isNoonError(e: unknown, code?: ErrorCode): e is NoonError {
  return e instanceof NoonError && (code === undefined || e.code === code);
}
