/** Polling with a deadline (never a bare sleep to wait for a state), and a plain pause for fault durations. */

/** Re-checks every `everyMs` until `check` returns true; a throw is retried, and named if the deadline passes. */
export async function pollUntil(
  what: string,
  deadlineMs: number,
  check: () => boolean | Promise<boolean>,
  everyMs = 50,
): Promise<void> {
  const end = Date.now() + deadlineMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end)
      throw new Error(
        `timed out after ${deadlineMs} ms waiting for ${what}${last === undefined ? '' : ` (last error: ${String(last)})`}`,
      );
    await pause(everyMs);
  }
}

/** How long a fault lasts (a SIGSTOP of 5 s, a shard down for 3 s): the duration is the drill itself. */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
