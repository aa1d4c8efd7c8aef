/**
 * Keeps client connections from taking the process's last file descriptors. At the limit,
 * accept() fails with EMFILE and Node quietly accepts and closes every waiting connection, but
 * worse, everything else the process opens fails too: ZeroMQ's sockets to services and Yellow
 * (libzmq aborts the process when it cannot make one), the database, log files. So the broker
 * refuses a new client connection while fewer than RESERVE descriptors would be left, and the
 * refusal is counted like any other (noon_dropped_total{reason="fd_limit"}).
 *
 * The open count is read from /proc/self/fd only near the limit, at most every REFRESH_MS, and
 * estimated in between from the change in client connections since the last read.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** descriptors left for everything that is not a client connection */
export const RESERVE = 64;
const REFRESH_MS = 50;

/** The soft RLIMIT_NOFILE of this process (Linux), or undefined when it cannot be read. */
export function openFileLimit(limitsText = readText('/proc/self/limits')): number | undefined {
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(limitsText ?? '');
  return m && m[1] !== 'unlimited' ? Number(m[1]) : undefined;
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function openFiles(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}

export class FdBudget {
  private counted?: { at: number; open: number; conns: number };

  constructor(
    private readonly limit: number | undefined = openFileLimit(),
    private readonly countOpen: () => number | undefined = openFiles,
  ) {}

  /** Whether one more client connection (on top of `conns`) would leave too few descriptors. */
  exhausted(conns: number, now = Date.now()): boolean {
    const { limit } = this;
    if (limit === undefined) return false;
    // Far from the limit whatever else is open: no need to look.
    if (conns < limit / 2 - RESERVE) return false;
    let c = this.counted;
    if (!c || now - c.at >= REFRESH_MS) {
      const open = this.countOpen();
      if (open === undefined) return false;
      c = this.counted = { at: now, open, conns };
    }
    const open = c.open + (conns - c.conns);
    return open + RESERVE >= limit;
  }
}
