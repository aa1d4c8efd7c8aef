/** playRound: a server-decided outcome, rewards and player level-ups, once per key. */
import type { Player, RoundRequest } from '../../shared/protocol';
import { RoundResult } from '../../shared/protocol';
import type { CallContext, WithContext } from '../../rpc/api';
import { afterWrite, type PlayerCore } from './core';
import { badRequest, callerOf, keyOf, toProfile } from './convert';
import { once } from './idempotency';
import { ledgerSource } from './ledger';
import { decideRound, levelForXp, MAX_STAGE, type RoundOutcome } from './rules';
import { applyDelta, setProgress, type ProfileRow } from './store';

type Handlers = Pick<Player.IHandler, 'playRound'>;

interface RoundRow extends RoundOutcome {
  profile: ProfileRow;
}

async function playRound(core: PlayerCore, req: RoundRequest, ctx: CallContext): Promise<RoundResult> {
  const userId = callerOf(ctx.userId);
  const clientKey = keyOf(req.idempotencyKey);
  const key = `c:${clientKey}`;
  const stage = req.stage ?? 0;
  if (!Number.isInteger(stage) || stage < 1 || stage > MAX_STAGE)
    throw badRequest(`stage must be an integer in 1..${MAX_STAGE}`);
  const spec = { userId, key, op: 'playRound', fingerprint: JSON.stringify([stage]) };
  const r = await once<RoundRow>(core.db, spec, async (q, p) => {
    // Decided under the row lock from the level as it stands: the recorded result is what counts.
    const outcome = decideRound(core.roundRule, { userId, key: clientKey, stage, playerLevel: p.level });
    await applyDelta(q, p, 'soft', outcome.softReward, { reason: 'round', key, source: ledgerSource.round(key) });
    const xp = p.xp + outcome.xpGained;
    await setProgress(q, p, Math.max(p.level, levelForXp(xp)), xp);
    return { ...outcome, profile: { ...p } };
  });
  await afterWrite(core, ctx, userId, { wallet: r.value.profile, applied: r.applied && r.value.softReward > 0 });
  const { won, softReward, xpGained, profile } = r.value;
  return new RoundResult({ won, softReward, xpGained, profile: toProfile(profile) });
}

export function roundHandlers(core: PlayerCore): WithContext<Handlers> {
  return { playRound: (req, ctx) => playRound(core, req, ctx) };
}
