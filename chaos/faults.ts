/**
 * Doing each fault of the scenario table to the running cluster. Each returns what it measured
 * (notes) and what went wrong in the fault itself (misses, e.g. a SIGTERM that did not end with
 * exit 0), and names every instance it takes down on purpose, so that its `down` is expected.
 */
import type { ChaosCluster, RoleProc } from './cluster';
import { hostIndexOf, PARTITIONED_SERVICE_INDEX } from './hosts';
import type { OwnPostgres, RedisShard } from './infra';
import type { HostNetwork } from './netns';
import type { Fault } from './scenarios';
import { pause, pollUntil } from './wait';
import type { YellowWatch } from './watch';

export interface FaultContext {
  cluster: ChaosCluster;
  watch: YellowWatch;
  /** undefined when the machine has no Postgres binaries (the cluster then uses a shared server) */
  pg: OwnPostgres | undefined;
  shards: RedisShard[];
  heartbeatMs: number;
  /** the hosts the cluster runs on, or why it runs on loopback (then there is no host to cut off) */
  hosts: { net: HostNetwork } | { problem: string };
  expectDown(instanceId: string): void;
}

export interface FaultOutcome {
  notes: string[];
  misses: string[];
  /** the fault could not be done on this machine (said in notes) */
  skipped?: boolean;
}

const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const SERVING_DEADLINE_MS = 60_000;

function first(ctx: FaultContext, role: string): RoleProc {
  const p = ctx.cluster.all().find((x) => x.slot.role === role && x.alive);
  if (!p) throw new Error(`no live ${role} process to fault`);
  return p;
}

/** Starts a new process in the slot of `old` and waits until Yellow lists it live. */
async function replace(ctx: FaultContext, old: RoleProc): Promise<{ proc: RoleProc; ms: number }> {
  const t0 = Date.now();
  const proc = await ctx.cluster.start(old.slot);
  await pollUntil(`${proc.name} (${proc.instanceId}) live in Yellow`, SERVING_DEADLINE_MS, () =>
    ctx.watch.serving([proc.instanceId]),
  );
  return { proc, ms: Date.now() - t0 };
}

async function rolling(ctx: FaultContext, role: string): Promise<FaultOutcome> {
  const out: FaultOutcome = { notes: [], misses: [] };
  for (const old of ctx.cluster.of(role as never)) {
    ctx.expectDown(old.instanceId);
    const t0 = Date.now();
    const how = await ctx.cluster.stop(old, 'SIGTERM', 60_000);
    const stopMs = Date.now() - t0;
    if (how !== 'exit 0') out.misses.push(`${old.name} ended with ${how} after SIGTERM, not exit 0`);
    const { ms } = await replace(ctx, old);
    out.notes.push(`${old.name}: SIGTERM to exit ${secs(stopMs)}, replacement live in ${secs(ms)}`);
  }
  return out;
}

async function sigkill(ctx: FaultContext, role: string): Promise<FaultOutcome> {
  const out: FaultOutcome = { notes: [], misses: [] };
  const victim = first(ctx, role);
  ctx.expectDown(victim.instanceId);
  const t0 = Date.now();
  await ctx.cluster.stop(victim, 'SIGKILL');
  // A Yellow is registered only in itself: the survivors' view has no record of it to expire.
  if (role !== 'yellow') {
    await pollUntil(
      `${victim.instanceId} declared down`,
      15_000,
      () => ctx.watch.downAt(victim.instanceId, t0) !== undefined,
    )
      .then(() =>
        out.notes.push(`declared down ${secs((ctx.watch.downAt(victim.instanceId, t0) ?? t0) - t0)} after the SIGKILL`),
      )
      .catch(() => out.misses.push(`${victim.instanceId} was not declared down within 15 s of its SIGKILL`));
  }
  const { ms } = await replace(ctx, victim);
  out.notes.push(`${victim.name} replaced: live again ${secs(Date.now() - t0)} after the SIGKILL (start ${secs(ms)})`);
  return out;
}

async function sigstop(ctx: FaultContext, role: string, ms: number): Promise<FaultOutcome> {
  const out: FaultOutcome = { notes: [], misses: [] };
  const victim = first(ctx, role);
  // A stopped process stops its heartbeat thread too: it is declared down, by design.
  ctx.expectDown(victim.instanceId);
  const t0 = Date.now();
  victim.signal('SIGSTOP');
  await pause(ms);
  victim.signal('SIGCONT');
  const down = ctx.watch.downAt(victim.instanceId, t0);
  out.notes.push(
    down === undefined ? 'not declared down while stopped' : `declared down ${secs(down - t0)} into the stop`,
  );
  await pollUntil(`${victim.name} live again after SIGCONT`, SERVING_DEADLINE_MS, () =>
    ctx.watch.serving([victim.instanceId]),
  );
  out.notes.push(`live again ${secs(Date.now() - t0 - ms)} after SIGCONT`);
  return out;
}

async function stall(ctx: FaultContext, role: string, ms: number): Promise<FaultOutcome> {
  const victim = first(ctx, role);
  victim.signal('SIGUSR2');
  // the block itself, then as long again: a wrongly expired instance would be declared down by then
  await pause(ms + Math.max(ms, 3 * ctx.heartbeatMs));
  return { notes: [`${victim.name} blocked for ${secs(ms)} (SIGUSR2)`], misses: [] };
}

async function pgRestart(ctx: FaultContext, downMs: number): Promise<FaultOutcome> {
  if (!ctx.pg)
    return {
      notes: ["not run: no PostgreSQL server binaries (/usr/lib/postgresql/*/bin) for a Postgres of the tool's own"],
      misses: [],
      skipped: true,
    };
  const t0 = Date.now();
  await ctx.pg.stop('immediate');
  await pause(downMs);
  await ctx.pg.start();
  return { notes: [`Postgres down (immediate stop) for ${secs(Date.now() - t0)}`], misses: [] };
}

async function redisKill(ctx: FaultContext, shard: number, downMs: number): Promise<FaultOutcome> {
  const s = ctx.shards[shard];
  if (!s) throw new Error(`no Redis shard ${shard}`);
  const t0 = Date.now();
  await s.stop('SIGKILL');
  await pause(downMs);
  await s.start();
  return { notes: [`shard ${shard} (port ${s.port}) down for ${secs(Date.now() - t0)}, back empty`], misses: [] };
}

/** A host's instances are down within this many heartbeats of its cut (the detection bound is 2.75). */
const DETECTION_HEARTBEATS = 3;

/**
 * Cuts the host of every service's instance #1 off (nftables drops everything on its interface),
 * heals it after `ms`, and waits for its instances to be listed again: the same instances, which
 * register again by themselves once their heartbeats get through.
 */
async function partition(ctx: FaultContext, ms: number): Promise<FaultOutcome> {
  if (!('net' in ctx.hosts)) return { notes: [], misses: [`not run: ${ctx.hosts.problem}`] };
  const out: FaultOutcome = { notes: [], misses: [] };
  const { net } = ctx.hosts;
  const at = hostIndexOf({ role: 'player', index: PARTITIONED_SERVICE_INDEX });
  const host = net.hosts[at];
  if (!host) throw new Error(`no host ${at + 1} in the network`);
  const cut = ctx.cluster.all().filter((p) => p.alive && hostIndexOf(p.slot) === at);
  for (const p of cut) ctx.expectDown(p.instanceId);
  const t0 = Date.now();
  await net.partition(host);
  const downAt = (p: RoleProc): number | undefined => ctx.watch.downAt(p.instanceId, t0);
  const boundMs = DETECTION_HEARTBEATS * ctx.heartbeatMs;
  await pollUntil(`every instance on ${host.name} declared down`, 15_000, () =>
    cut.every((p) => downAt(p) !== undefined),
  )
    .then(() => {
      const slowest = Math.max(...cut.map((p) => (downAt(p) ?? t0) - t0));
      out.notes.push(
        `${host.name} (${cut.map((p) => p.name).join(' ')}) cut off: all ${cut.length} declared down within ${secs(slowest)}`,
      );
      if (slowest > boundMs)
        out.misses.push(`declared down after ${secs(slowest)}, past the ${secs(boundMs)} detection bound`);
    })
    .catch(() => {
      const missing = cut.filter((p) => downAt(p) === undefined).map((p) => p.name);
      out.misses.push(`${missing.join(', ')} on ${host.name} not declared down within 15 s of the cut`);
    });
  await pause(Math.max(0, t0 + ms - Date.now()));
  await net.heal(host);
  const healedAt = Date.now();
  const back = (): RoleProc[] => cut.filter((p) => ctx.watch.serving([p.instanceId]));
  await pollUntil(
    `the instances on ${host.name} listed again`,
    SERVING_DEADLINE_MS,
    () => back().length === cut.length,
  ).catch(() =>
    out.misses.push(
      `${back().length} of ${cut.length} instances on ${host.name} rejoined within ${secs(SERVING_DEADLINE_MS)}`,
    ),
  );
  out.notes.push(
    `healed after ${secs(healedAt - t0)}: ${back().length} of ${cut.length} rejoined, ${secs(Date.now() - healedAt)} after the heal`,
  );
  return out;
}

export function runFault(ctx: FaultContext, f: Fault): Promise<FaultOutcome> {
  switch (f.kind) {
    case 'rolling':
      return rolling(ctx, f.role);
    case 'sigkill':
      return sigkill(ctx, f.role);
    case 'sigstop':
      return sigstop(ctx, f.role, f.ms);
    case 'stall':
      return stall(ctx, f.role, f.ms);
    case 'pg-restart':
      return pgRestart(ctx, f.downMs);
    case 'redis-kill':
      return redisKill(ctx, f.shard, f.downMs);
    case 'partition':
      return partition(ctx, f.ms);
  }
}
