/**
 * Spec of which transaction failures are retried (shared/data/sql.ts runWithTxRetry): conflicts
 * always, a lost or ended session only before COMMIT was sent; after it, the outcome is unknown.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommitUnknownError, isConnectionLoss, runWithTxRetry } from '../../shared/data/sql';

const pgError = (code: string, message = `error ${code}`): Error => Object.assign(new Error(message), { code });

const CASES: Array<[string, Error, boolean]> = [
  ['serialization failure', pgError('40001'), true],
  ['deadlock', pgError('40P01'), true],
  ['admin shutdown', pgError('57P01'), true],
  ['ended idle in transaction (idle_in_transaction_session_timeout)', pgError('25P03'), true],
  ['read-only after a failover', pgError('25006'), true],
  ['connection reset', pgError('ECONNRESET'), true],
  ['node-postgres: Connection terminated unexpectedly', new Error('Connection terminated unexpectedly'), true],
  ['unique violation', pgError('23505'), false],
  ['statement timeout', pgError('57014'), false],
];

for (const [name, err, retried] of CASES)
  test(`${name}: ${retried ? 'retried' : 'not retried'} before COMMIT`, async () => {
    let attempts = 0;
    const run = runWithTxRetry(
      async () => {
        if (++attempts === 1) throw err;
        return 'done';
      },
      { baseMs: 0, maxMs: 0 },
    );
    if (retried) assert.equal(await run, 'done');
    else await assert.rejects(run, (e: unknown) => e === err);
    assert.equal(attempts, retried ? 2 : 1);
  });

test('a session lost after COMMIT was sent is never retried: its outcome is unknown', async () => {
  let attempts = 0;
  await assert.rejects(
    runWithTxRetry(async (commitSent) => {
      attempts++;
      commitSent();
      throw pgError('25P03');
    }),
    (e: unknown) => e instanceof CommitUnknownError && e.code === 'TIMEOUT',
  );
  assert.equal(attempts, 1);
  assert.equal(isConnectionLoss(pgError('25P03')), true);
});

test('the driver giving up on COMMIT (client-side query_timeout) is outcome unknown, not a failure, and not retried', async () => {
  let attempts = 0;
  await assert.rejects(
    runWithTxRetry(async (commitSent) => {
      attempts++;
      commitSent();
      throw new Error('Query read timeout');
    }),
    (e: unknown) => e instanceof CommitUnknownError && e.code === 'TIMEOUT' && /outcome unknown/.test(e.message),
  );
  assert.equal(attempts, 1);
});

test('the driver giving up before COMMIT is not retried and not outcome unknown: the transaction is rolled back', async () => {
  let attempts = 0;
  const err = new Error('Query read timeout');
  await assert.rejects(
    runWithTxRetry(async () => {
      attempts++;
      throw err;
    }),
    (e: unknown) => e === err,
  );
  assert.equal(attempts, 1);
});
