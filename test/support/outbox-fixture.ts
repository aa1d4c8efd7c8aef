/**
 * Modules for the outbox tests: a job whose handler records its effect (refusing some values and
 * failing others once, on purpose), and event subscribers that record what they receive. Values
 * are the IDL's DuelRecord: `duelId` names the job or event, `reason` says how the handler treats
 * it, `endedAtMs` carries a sequence number and `winner` the ordering key.
 */
import { DuelRecord, Leaderboard, Pong, RankEntry } from '../../shared/protocol';
import {
  defineEvent,
  defineJob,
  handleJob,
  JobRefused,
  onEvent,
  type AnyServiceModule,
  type ServiceModule,
} from '../../rpc/api';

export const effectJob = defineJob('test.effect', DuelRecord, { maxAttempts: 5 });
export const tickEvent = defineEvent('test.tick', DuelRecord);

/** Every effect a job had: the test counts rows per job, so a job run twice shows up. */
const JOB_TABLES = `
CREATE TABLE IF NOT EXISTS job_effects (
  seq bigserial PRIMARY KEY,
  name text NOT NULL,
  job_id bigint NOT NULL,
  attempt integer NOT NULL
);`;

export const jobFixtureModule: AnyServiceModule = {
  role: 'jobfx',
  migrations: [{ id: '001_job_effects', sql: JOB_TABLES }],
  jobs: [
    handleJob(effectJob, async (v, ctx) => {
      if (v.reason === 'refuse') throw new JobRefused(`job ${v.duelId} is refused on purpose`);
      if (v.reason === 'flaky' && ctx.attempt === 1) throw new Error(`job ${v.duelId} fails its first attempt`);
      // long enough that a SIGKILL lands while jobs are running
      await ctx.q.query('SELECT pg_sleep(0.01)');
      await ctx.q.query('INSERT INTO job_effects (name, job_id, attempt) VALUES ($1, $2, $3)', [
        v.duelId,
        ctx.id,
        ctx.attempt,
      ]);
    }),
  ],
  build: () => {
    throw new Error('jobfx only declares jobs; no service runs it');
  },
};

const EVENT_TABLES = `
CREATE TABLE IF NOT EXISTS event_effects (
  seq bigserial PRIMARY KEY,
  consumer text NOT NULL,
  instance text NOT NULL,
  name text NOT NULL,
  order_key text NOT NULL,
  n bigint NOT NULL
);`;

/** A subscriber service `role`: records each test.tick it receives, with the instance that ran it. */
export function subscriberModule(role: string): ServiceModule<Leaderboard.IHandler> {
  return {
    role,
    migrations: [{ id: '001_event_effects', sql: EVENT_TABLES }],
    build: (env) => ({
      role,
      thriftService: 'Leaderboard',
      processor: Leaderboard.Processor,
      stateful: false,
      subscriptions: [
        onEvent(tickEvent, async (v, ctx) => {
          await ctx.q.query(
            'INSERT INTO event_effects (consumer, instance, name, order_key, n) VALUES ($1, $2, $3, $4, $5)',
            [role, env.instanceId, v.duelId, ctx.key ?? '', Number(v.endedAtMs?.toString() ?? -1)],
          );
        }),
      ],
      handlers: {
        top: () => [],
        myRank: () => new RankEntry({}),
        around: () => [],
        report: () => new RankEntry({}),
        ping: () => new Pong({ instance: env.instanceId, serviceName: role, serverTimeMs: Date.now() }),
      },
    }),
  };
}
