/**
 * Connection admission and the deadlines every connection lives under: caps on total connections,
 * on the file descriptors they may take, and per client address, a handshake deadline (first message), a login deadline and an idle
 * deadline, checked by one sweep for all connections instead of timers per connection.
 *
 * Addresses are counted in their canonical form (`normalizeAddress`): `::ffff:127.0.0.2` is
 * `127.0.0.2`, whichever listener (IPv4 or dual-stack) accepted it. Each address counts on its
 * own; an IPv4 /24 or IPv6 /64 is not aggregated.
 */
import { normalizeAddress } from './address-limits';
import type { ClientConn } from './client-conn';
import { FdBudget } from './fd-budget';

export interface AdmissionLimits {
  maxConnections: number;
  maxConnectionsPerIp: number;
  handshakeTimeoutMs: number;
  loginTimeoutMs: number;
  idleTimeoutMs: number;
}

export class Admission {
  readonly conns = new Set<ClientConn>();
  private readonly perAddress = new Map<string, number>();
  private sweeper?: NodeJS.Timeout;

  constructor(
    private readonly limits: AdmissionLimits,
    private readonly onRefused: (reason: string) => void,
    /** file descriptors left to the process (edge/fd-budget.ts) */
    private readonly fds: FdBudget = new FdBudget(),
  ) {}

  /** Whether a new connection from `remote` may open; counts it if so. */
  admit(remote: string): boolean {
    if (this.conns.size >= this.limits.maxConnections) {
      this.onRefused('max_connections');
      return false;
    }
    if (this.fds.exhausted(this.conns.size)) {
      this.onRefused('fd_limit');
      return false;
    }
    const address = normalizeAddress(remote);
    const n = this.perAddress.get(address) ?? 0;
    if (n >= this.limits.maxConnectionsPerIp) {
      this.onRefused('max_connections_per_ip');
      return false;
    }
    this.perAddress.set(address, n + 1);
    return true;
  }

  /** Undoes admit() for a connection that never became a ClientConn. */
  release(remote: string): void {
    const address = normalizeAddress(remote);
    const n = (this.perAddress.get(address) ?? 1) - 1;
    if (n <= 0) this.perAddress.delete(address);
    else this.perAddress.set(address, n);
  }

  /** Open connections counted for `remote` (in any of its forms). */
  connectionsFrom(remote: string): number {
    return this.perAddress.get(normalizeAddress(remote)) ?? 0;
  }

  add(conn: ClientConn): void {
    this.conns.add(conn);
  }

  remove(conn: ClientConn): void {
    if (this.conns.delete(conn)) this.release(conn.remote);
  }

  start(): void {
    const every = Math.max(
      10,
      Math.min(
        1000,
        Math.floor(Math.min(this.limits.handshakeTimeoutMs, this.limits.idleTimeoutMs, this.limits.loginTimeoutMs) / 4),
      ),
    );
    this.sweeper = setInterval(() => this.sweep(Date.now()), every);
    this.sweeper.unref();
  }

  stop(): void {
    if (this.sweeper) clearInterval(this.sweeper);
  }

  /** Closes connections past a deadline; returns how many. */
  sweep(now: number): number {
    let closed = 0;
    for (const c of this.conns) {
      const reason =
        c.messages === 0 && now - c.openedAt > this.limits.handshakeTimeoutMs
          ? `no message within ${this.limits.handshakeTimeoutMs} ms of connecting`
          : !c.authenticated && now - c.openedAt > this.limits.loginTimeoutMs
            ? `not logged in within ${this.limits.loginTimeoutMs} ms`
            : now - c.lastActivity > this.limits.idleTimeoutMs
              ? `idle for ${this.limits.idleTimeoutMs} ms`
              : undefined;
      if (reason) {
        c.close(reason);
        closed++;
      }
    }
    return closed;
  }
}
