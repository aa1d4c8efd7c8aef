/**
 * The chaos suite's scenario table: what each scenario does to the cluster and what its targets
 * allow. Pure data, so the table is tested and printed without a cluster.
 */

/** The roles of the chaos cluster, in the order they are started and rolled. */
export const CLUSTER_ROLES = [
  'yellow',
  'brokerlist',
  'broker',
  'sso',
  'player',
  'duel',
  'chat',
  'leaderboard',
] as const;
export type ClusterRole = (typeof CLUSTER_ROLES)[number];

/** How many instances of each role the cluster keeps running. */
export const CLUSTER_SIZE: Readonly<Record<ClusterRole, number>> = {
  yellow: 2,
  brokerlist: 1,
  broker: 2,
  sso: 2,
  player: 2,
  duel: 2,
  chat: 2,
  leaderboard: 2,
};

export type Fault =
  /** every instance of the role, one at a time: SIGTERM (it drains), wait for its exit, start a new one */
  | { kind: 'rolling'; role: ClusterRole }
  /** one instance SIGKILLed; a new one started once Yellow declared it down */
  | { kind: 'sigkill'; role: ClusterRole }
  /** one instance SIGSTOPped for `ms`, then SIGCONT */
  | { kind: 'sigstop'; role: ClusterRole; ms: number }
  /** one instance's main event loop blocked for `ms` (SIGUSR2 with NOON_DEBUG_STALL_MS) */
  | { kind: 'stall'; role: ClusterRole; ms: number }
  /** the tool's own Postgres stopped in immediate mode (a crash for its clients) and started again */
  | { kind: 'pg-restart'; downMs: number }
  /** one Redis shard SIGKILLed, started again empty on its port after `downMs` */
  | { kind: 'redis-kill'; shard: number; downMs: number }
  /** the host of instance #1 of every service cut off from every other host for `ms`, then healed */
  | { kind: 'partition'; ms: number };

export interface Scenario {
  name: string;
  fault: Fault;
  /** failed calls (a clear error) are within the targets; never during a rolling restart */
  failedAllowed: boolean;
  /** outcome-unknown calls are within the targets: only when something is killed mid-call */
  unknownAllowed: boolean;
}

/** Whether a fault kills something with calls in flight (the only case where unknown outcomes are allowed). */
function kills(f: Fault): boolean {
  return f.kind === 'sigkill' || f.kind === 'redis-kill' || f.kind === 'pg-restart' || f.kind === 'partition';
}

export function scenarioOf(fault: Fault): Scenario {
  return { name: nameOf(fault), fault, failedAllowed: fault.kind !== 'rolling', unknownAllowed: kills(fault) };
}

export function nameOf(f: Fault): string {
  switch (f.kind) {
    case 'rolling':
    case 'sigkill':
      return `${f.kind} ${f.role}`;
    case 'sigstop':
    case 'stall':
      return `${f.kind} ${f.role} ${f.ms / 1000}s`;
    case 'partition':
      return `partition service host ${f.ms / 1000}s`;
    case 'pg-restart':
      return 'restart postgres';
    case 'redis-kill':
      return `kill redis shard ${f.shard}`;
  }
}

export interface TableOptions {
  /** the CI subset: one rolling restart of a service, one SIGKILL of a player, one SIGSTOP */
  short: boolean;
  /** include the partition (the cluster then runs on hosts of network namespaces: root, `ip`, `nft`) */
  partition: boolean;
}

/** Long enough past the detection (about 2.75 heartbeats) that calls visibly reroute meanwhile. */
const PARTITION: Fault = { kind: 'partition', ms: 10_000 };

export function scenarioTable(o: TableOptions): Scenario[] {
  if (o.short) {
    const short: Fault[] = [
      { kind: 'rolling', role: 'player' },
      { kind: 'sigkill', role: 'player' },
      { kind: 'sigstop', role: 'player', ms: 5000 },
    ];
    if (o.partition) short.push(PARTITION);
    return short.map(scenarioOf);
  }
  const faults: Fault[] = [
    ...CLUSTER_ROLES.map((role): Fault => ({ kind: 'rolling', role })),
    ...CLUSTER_ROLES.map((role): Fault => ({ kind: 'sigkill', role })),
    { kind: 'sigstop', role: 'player', ms: 5000 },
    { kind: 'stall', role: 'player', ms: 2000 },
    { kind: 'stall', role: 'broker', ms: 2000 },
    { kind: 'pg-restart', downMs: 2000 },
    { kind: 'redis-kill', shard: 0, downMs: 3000 },
  ];
  if (o.partition) faults.push(PARTITION);
  return faults.map(scenarioOf);
}
