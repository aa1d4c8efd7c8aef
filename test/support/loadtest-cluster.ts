/**
 * A whole cluster for load tests: `node bin/noon.js up` as a child process on ephemeral ports with
 * a temp data dir, its data in a throwaway Postgres database (created here, dropped by stop()).
 * Resolves on the child's JSON ready line, with a deadline; stop() sends SIGTERM to that pid and
 * SIGKILL after a deadline.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestProcess } from './process';
import { pgUrlFor, TEST_PG_URL } from './services';
import { createTestDatabase, dropTestDatabase } from './cluster-data';

export { TEST_PG_URL };

export interface NoonUp {
  brokerlist: string;
  yellow: string;
  pgUrl: string;
  pid: number;
  stderr: string[];
  stop(): Promise<void>;
}

/** Starts `noon up` (with the development purchase verifier); `env` adds settings (e.g. NOON_SCRYPT_N). */
export async function startNoonUp(env: NodeJS.ProcessEnv = {}, deadlineMs = 90_000): Promise<NoonUp> {
  const db = `noon_lt_${process.pid}_${randomBytes(3).toString('hex')}`;
  await createTestDatabase(db);
  const pgUrl = pgUrlFor(db);
  const dataDir = mkdtempSync(join(tmpdir(), 'noon-lt-'));
  const args = ['bin/noon.js', 'up', '--yellow-port', '0', '--brokerlist-port', '0', '--broker-port', '0'];
  args.push('--broker-ws-port', '0', '--data-dir', dataDir, '--log-level', 'warn');
  // On Postgres `noon up` has no purchase verifier by default; the load test buys dev receipts.
  const childEnv = { ...process.env, NOON_PG_URL: pgUrl, NOON_PURCHASE_VERIFIER: 'development', ...env };
  const child = new TestProcess(args, childEnv, 'noon up');
  const cleanup = async (): Promise<void> => {
    await child.stop('SIGTERM', 15_000);
    rmSync(dataDir, { recursive: true, force: true });
    await dropTestDatabase(db).catch(() => undefined);
  };
  try {
    const ready = await child.waitFor('ready line', () => child.jsonLine({ ready: 'up' }), deadlineMs);
    const brokerlist = String(ready.brokerlist);
    const yellow = String(ready.yellow);
    return { brokerlist, yellow, pgUrl, pid: child.pid, stderr: child.stderr, stop: cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
