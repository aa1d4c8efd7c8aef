/**
 * A broker-made error message as clients read it: the message, then the call's trace id
 * (` (trace <32 hex digits>)`), which names the call in the logs and spans of every hop.
 */
export const TRACE_SUFFIX = / \(trace ([0-9a-f]{32})\)$/;

/** Matches exactly `message` followed by the trace suffix. */
export function traced(message: string): RegExp {
  return new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}${TRACE_SUFFIX.source}`);
}
