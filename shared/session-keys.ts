/**
 * Keys of the session record in the shared store, written by brokers (the broker holding the
 * session, its bindings) and read by sso (to close a session's old connection on resume).
 */
export const sessionKey = (sessionId: string): string => `sess:{${sessionId}}`;
export const BROKER_FIELD = 'broker';
/** The session's push stream: its last seq (a field of sessionKey) and its window (a list). */
export const PUSH_SEQ_FIELD = 'pushSeq';
export const pushLogKey = (sessionId: string): string => `push:{${sessionId}}`;
