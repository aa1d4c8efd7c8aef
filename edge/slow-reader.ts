/**
 * The slow-reader rule, as a pure function. A burst fanned out in one turn is legitimate, so a
 * reader is judged over time: its outbound queue may pass `outboundQueue` messages or
 * `outboundBytes` bytes for at most `outboundGraceMs`; past that it is cut off. Four times
 * `outboundBytes` is the memory bound and cuts at once.
 */
export interface OutboundLimits {
  outboundQueue: number;
  outboundBytes: number;
  outboundGraceMs: number;
}

export interface OutboundVerdict {
  /** when the queue went over its soft limit; undefined while under it */
  overSince: number | undefined;
  /** set when the reader is to be cut off: why */
  cut?: string;
}

/** The verdict for a queue under its limits: shared, so the per-send path allocates nothing. */
const UNDER: OutboundVerdict = Object.freeze({ overSince: undefined });

/** `messages` and `bytes` are what is queued for the reader now. */
export function judgeOutbound(
  messages: number,
  bytes: number,
  overSince: number | undefined,
  now: number,
  l: OutboundLimits,
): OutboundVerdict {
  if (bytes > 4 * l.outboundBytes) return { overSince, cut: `more than ${4 * l.outboundBytes} bytes queued` };
  const over = messages >= l.outboundQueue || bytes > l.outboundBytes;
  if (!over) return UNDER;
  const since = overSince ?? now;
  if (now - since > l.outboundGraceMs)
    return {
      overSince: since,
      cut: `over ${l.outboundQueue} messages or ${l.outboundBytes} bytes queued for ${now - since} ms`,
    };
  return { overSince: since };
}
