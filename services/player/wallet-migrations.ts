/**
 * The wallet operation as one SQL function (services/player/wallet-op.ts calls it): buy, spend
 * and grant are each one statement in autocommit, one round trip, instead of a transaction of
 * eight (BEGIN, lock, idempotency lookup, SAVEPOINT, UPDATE, ledger, idempotency record, COMMIT).
 *
 * `player_wallet_apply_v1` does under the player's row lock what `once` + `applyDelta` do in a
 * transaction, in the same order and with the same outcomes:
 * 1. lock the player's row (FOR UPDATE): every change to one player is serialised, across
 *    instances, and with the transactions of the other player calls (`once`), which take the same
 *    lock first;
 * 2. a recorded outcome for (user, key) is returned as it is ('replayed'): the caller checks op
 *    and fingerprint (CONFLICT on a mismatch) and replays it (idempotency.ts `replay`);
 * 3. a purchase claims its store transaction (player_purchases); already claimed = the refusal
 *    CONFLICT "this store transaction was already redeemed by another account";
 * 4. a balance that would go negative = the refusal INSUFFICIENT_FUNDS "not enough <currency>:
 *    have <n>, need <m>" (soft checked before hard, as applyDelta is called);
 * 5. else the balances change and one ledger row per changed currency is written, with its source;
 * 6. the outcome — the new wallet or the refusal — is recorded for (user, key) and returned
 *    ('done'). A refusal writes nothing but that record (every check runs before any write), so
 *    no savepoint is needed.
 *
 * The recorded text is exactly what `once` records (`{"ok":{"soft":…,"hard":…}}`,
 * `{"refused":{"code":…,"message":…}}`), so either path replays the other's outcomes: instances
 * of the old and the new code can serve one database during a rolling deploy. The codes are the
 * IDL's ErrorCode values (INSUFFICIENT_FUNDS = 7, CONFLICT = 8), which never change on the wire.
 *
 * Volatile plpgsql: every statement inside takes a new snapshot, so the idempotency lookup after
 * waiting on the row lock sees what the previous holder committed (as `once`'s next statement does).
 * Versioned by name (`_v1`): a change is a new function in a new migration, so instances still
 * calling v1 keep working until they are replaced. CREATE OR REPLACE: rerunning the SQL is harmless.
 */
import type { Migration } from '../../shared/data/migrate';

export const WALLET_APPLY_FUNCTION = 'player_wallet_apply_v1';

export const walletMigrations: readonly Migration[] = [
  {
    id: '004_wallet_apply',
    sql: `
CREATE OR REPLACE FUNCTION player_wallet_apply_v1(
  p_user_id text, p_key text, p_op text, p_fingerprint text,
  p_soft bigint, p_hard bigint, p_reason text, p_source text,
  -- a purchase: its store transaction (all NULL for a spend or a grant)
  p_store text, p_transaction_id text, p_product_id text, p_environment text)
RETURNS TABLE (outcome text, recorded_op text, recorded_fingerprint text, recorded_response text)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  v_soft bigint;
  v_hard bigint;
  v_prior record;
  v_refusal text;
  v_response text;
BEGIN
  SELECT pl.soft, pl.hard INTO v_soft, v_hard FROM players pl WHERE pl.user_id = p_user_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'missing'::text, NULL::text, NULL::text, NULL::text;
    RETURN;
  END IF;
  SELECT i.op, i.fingerprint, i.response INTO v_prior
    FROM player_idempotency i WHERE i.user_id = p_user_id AND i.key = p_key;
  IF FOUND THEN
    RETURN QUERY SELECT 'replayed'::text, v_prior.op, v_prior.fingerprint, v_prior.response;
    RETURN;
  END IF;
  IF p_store IS NOT NULL THEN
    INSERT INTO player_purchases AS pp (store, transaction_id, user_id, product_id, currency, amount, environment)
    VALUES (p_store, p_transaction_id, p_user_id, p_product_id,
            CASE WHEN p_soft <> 0 THEN 'soft' ELSE 'hard' END, p_soft + p_hard, p_environment)
    ON CONFLICT (store, transaction_id) DO NOTHING;
    IF NOT FOUND THEN
      v_refusal := format('{"refused":{"code":8,"message":%s}}',
        to_json('this store transaction was already redeemed by another account'::text)::text);
    END IF;
  END IF;
  IF v_refusal IS NULL AND v_soft + p_soft < 0 THEN
    v_refusal := format('{"refused":{"code":7,"message":%s}}',
      to_json(format('not enough soft: have %s, need %s', v_soft, -p_soft))::text);
  ELSIF v_refusal IS NULL AND v_hard + p_hard < 0 THEN
    v_refusal := format('{"refused":{"code":7,"message":%s}}',
      to_json(format('not enough hard: have %s, need %s', v_hard, -p_hard))::text);
  END IF;
  IF v_refusal IS NULL THEN
    v_soft := v_soft + p_soft;
    v_hard := v_hard + p_hard;
    UPDATE players pl SET soft = v_soft, hard = v_hard WHERE pl.user_id = p_user_id;
    INSERT INTO player_ledger (user_id, currency, delta, balance_after, reason, idem_key, source)
    SELECT p_user_id, c.currency, c.delta, c.after, p_reason, p_key, p_source
      FROM (VALUES ('soft', p_soft, v_soft), ('hard', p_hard, v_hard)) AS c (currency, delta, after)
     WHERE c.delta <> 0;
    v_response := format('{"ok":{"soft":%s,"hard":%s}}', v_soft, v_hard);
  ELSE
    v_response := v_refusal;
  END IF;
  INSERT INTO player_idempotency (user_id, key, op, fingerprint, response)
  VALUES (p_user_id, p_key, p_op, p_fingerprint, v_response);
  RETURN QUERY SELECT 'done'::text, p_op, p_fingerprint, v_response;
END
$fn$;
`,
  },
];
