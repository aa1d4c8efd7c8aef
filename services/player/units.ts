/** Unit calls: list (cached), levelUp and evolve (spend + unit change in one transaction, once per key). */
import type { Player, Unit, UnitRequest } from '../../shared/protocol';
import { ErrorCode, GameError } from '../../shared/protocol';
import type { Queryable } from '../../shared/data/sql';
import type { CallContext, WithContext } from '../../rpc/api';
import { afterWrite, cachedUnits, type PlayerCore } from './core';
import { callerOf, keyOf, toUnit } from './convert';
import { once } from './idempotency';
import { ledgerSource } from './ledger';
import {
  evolveCost,
  evolveRefusal,
  levelUpCost,
  levelUpRefusal,
  type Cost,
  type Refusal,
  type UnitStats,
} from './rules';
import { applyDelta, lockUnit, updateUnit, walletOf, type ProfileRow, type UnitRow, type WalletRow } from './store';

type Handlers = Pick<Player.IHandler, 'listUnits' | 'levelUp' | 'evolve'>;

interface UnitChange {
  op: 'levelUp' | 'evolve';
  refusal(u: UnitStats): Refusal;
  cost(u: UnitStats): Cost;
  apply(u: UnitRow): UnitRow;
}

const LEVEL_UP: UnitChange = {
  op: 'levelUp',
  refusal: levelUpRefusal,
  cost: levelUpCost,
  apply: (u) => ({ ...u, level: u.level + 1 }),
};
const EVOLVE: UnitChange = {
  op: 'evolve',
  refusal: evolveRefusal,
  cost: evolveCost,
  apply: (u) => ({ ...u, stars: u.stars + 1 }),
};

/** The transaction body: check the rules, pay, change the unit. Refusals roll back (see once). */
async function changeUnit(
  q: Queryable,
  p: ProfileRow,
  unitId: string,
  change: UnitChange,
  key: string,
): Promise<{ unit: UnitRow; wallet: WalletRow }> {
  const unit = await lockUnit(q, p.userId, unitId);
  if (unit === undefined) throw new GameError({ code: ErrorCode.NOT_FOUND, message: 'no such unit', retryable: false });
  const refusal = change.refusal(unit);
  if (refusal !== undefined) throw new GameError({ code: ErrorCode.CONFLICT, message: refusal, retryable: false });
  const cost = change.cost(unit);
  const entry = { reason: change.op, key, source: ledgerSource.unit(change.op, unitId) };
  await applyDelta(q, p, 'soft', -cost.soft, entry);
  await applyDelta(q, p, 'hard', -cost.hard, entry);
  const next = change.apply(unit);
  await updateUnit(q, next);
  return { unit: next, wallet: walletOf(p) };
}

async function run(core: PlayerCore, req: UnitRequest, ctx: CallContext, change: UnitChange): Promise<Unit> {
  const userId = callerOf(ctx.userId);
  const key = `c:${keyOf(req.idempotencyKey)}`;
  const unitId = keyOf(req.unitId, 'unitId');
  const spec = { userId, key, op: change.op, fingerprint: JSON.stringify([unitId]) };
  const r = await once(core.db, spec, (q, p) => changeUnit(q, p, unitId, change, key));
  await afterWrite(core, ctx, userId, { wallet: r.value.wallet, units: true, applied: r.applied });
  return toUnit(r.value.unit);
}

export function unitHandlers(core: PlayerCore): WithContext<Handlers> {
  return {
    listUnits: async (ctx) => (await cachedUnits(core, callerOf(ctx.userId))).map(toUnit),
    levelUp: (req, ctx) => run(core, req, ctx, LEVEL_UP),
    evolve: (req, ctx) => run(core, req, ctx, EVOLVE),
  };
}
