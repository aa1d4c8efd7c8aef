/**
 * Waiting in tests, never sleeping: poll a condition until it holds, wait for an event, or bound
 * a promise by a deadline. Every failure names what was awaited and for how long.
 */

/** What a condition returns while it does not hold yet. */
type NotYet = false | undefined | null;

/**
 * Re-evaluates `check` every `everyMs` until it returns something other than false, undefined or
 * null, and resolves with that. A check that throws is retried (the state may be settling, e.g.
 * a query while a server restarts); the last error is named if the deadline passes.
 */
export async function until<T>(
  what: string,
  check: () => T | NotYet | Promise<T | NotYet>,
  deadlineMs = 10_000,
  everyMs = 10,
): Promise<Exclude<T, NotYet>> {
  const end = Date.now() + deadlineMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== false && v !== undefined && v !== null) return v as Exclude<T, NotYet>;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > end) {
      const last = lastErr === undefined ? '' : ` (last error: ${String(lastErr)})`;
      throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}${last}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Rejects if `p` does not settle within `ms` (a test deadline, not a sleep). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/** Resolves with the first emitted value that passes `pred`, or rejects after deadlineMs. */
export function nextEvent<A extends unknown[]>(
  subscribe: (fn: (...args: A) => void) => () => void,
  pred: (...args: A) => boolean,
  what: string,
  deadlineMs: number,
): Promise<A> {
  return new Promise<A>((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`timed out after ${deadlineMs} ms waiting for ${what}`));
    }, deadlineMs);
    const unsubscribe = subscribe((...args: A) => {
      if (!pred(...args)) return;
      clearTimeout(timer);
      unsubscribe();
      resolve(args);
    });
  });
}
