/**
 * Keys of the session record in the shared store, written by brokers (the broker holding the
 * session, its bindings) and read by sso (to close a session's old connection on resume).
 */
export const sessionKey = (sessionId: string): string => `sess:{${sessionId}}`;
export const BROKER_FIELD = 'broker';
