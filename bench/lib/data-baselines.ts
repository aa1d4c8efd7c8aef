/**
 * The data bench's baselines and clean-up: a bare `pg` Pool wallet transaction (the SQL a spend
 * or buy needs at its core, without noon's idempotency record, savepoint or cache invalidation),
 * a bare ioredis client, and the removal of the throwaway schema and key prefix.
 */
import pg from 'pg';
import { type Redis } from 'ioredis';

/**
 * Slot s of a closed loop owns users s, s + inFlight, s + 2·inFlight, … (< users), and takes them
 * in turn: two calls in flight never touch one user, so row locks do not queue calls behind each
 * other (the service's own lock per player is what a real load contends on, not measured here).
 */
export function slotUsers(users: number, inFlight: number): (slot: number) => number {
  const turn = new Array<number>(inFlight).fill(0);
  return (slot) => {
    const owned = Math.ceil((users - slot) / inFlight);
    const n = turn[slot] ?? 0;
    turn[slot] = n + 1;
    return slot + (n % owned) * inFlight;
  };
}

/** Same pool size as PgDb's default, so both sides can hold as many transactions open. */
export const PG_POOL_MAX = 20;

export class PgWalletLoop {
  private readonly pool: pg.Pool;

  constructor(url: string, schema: string) {
    this.pool = new pg.Pool({ connectionString: url, max: PG_POOL_MAX, options: `-c search_path=${schema}` });
    this.pool.on('error', () => undefined);
  }

  /** BEGIN; lock the player row; set soft; one ledger row; COMMIT. `delta` must keep soft ≥ 0. */
  async apply(userId: string, delta: number, key: string): Promise<void> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const r = await c.query<{ soft: string }>('SELECT soft FROM players WHERE user_id = $1 FOR UPDATE', [userId]);
      const after = Number(r.rows[0]?.soft) + delta;
      await c.query('UPDATE players SET soft = $2 WHERE user_id = $1', [userId, after]);
      await c.query(
        'INSERT INTO player_ledger (user_id, currency, delta, balance_after, reason, idem_key, source) VALUES ($1, $2, $3, $4, $5, $6, $7)',
        [userId, 'soft', delta, after, 'bench', key, delta > 0 ? 'grant:bench' : 'spend:bench'],
      );
      await c.query('COMMIT');
      c.release();
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      c.release(true);
      throw err;
    }
  }

  /** Users whose soft balance differs from the sum of their soft ledger rows (expect none). */
  async ledgerMismatches(): Promise<number> {
    const r = await this.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM players p
        WHERE p.soft <> (SELECT coalesce(sum(delta), 0) FROM player_ledger l WHERE l.user_id = p.user_id AND l.currency = 'soft')`,
    );
    return Number(r.rows[0]?.n);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

export async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}

/** Deletes every key under `prefix` (SCAN, not KEYS: the server may be shared). Returns how many. */
export async function deleteKeys(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) n += await redis.del(...keys);
  } while (cursor !== '0');
  return n;
}
