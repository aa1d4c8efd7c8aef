/**
 * Duel analytics: one row per finished duel in `duel_analytics`, written by a worker after the
 * result, not by the request that ended the duel. The job is enqueued in the transaction that
 * writes the result (settlements.ts), so a result always gets its row and a rolled-back one never
 * does; the row is keyed by the duel id, so a result written twice (a lost COMMIT retried) still
 * records one.
 */
import { DuelFinished } from '../../shared/protocol';
import { defineJob, handleJob } from '../../rpc/api';

export const duelFinishedJob = defineJob('duel.finished', DuelFinished);

export const duelAnalytics = handleJob(duelFinishedJob, async (d, ctx) => {
  const players = d.players ?? [];
  await ctx.q.query(
    `INSERT INTO duel_analytics (duel_id, players, winner, reason, stake, ended_at, job_id)
     VALUES ($1, $2, NULLIF($3, ''), $4, $5, to_timestamp($6::double precision / 1000), $7)
     ON CONFLICT (duel_id) DO NOTHING`,
    [
      d.duelId ?? '',
      players,
      d.winner ?? '',
      d.reason ?? '',
      Number(d.stake?.toString() ?? 0),
      Number(d.endedAtMs?.toString() ?? 0),
      ctx.id,
    ],
  );
});
