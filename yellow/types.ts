/**
 * The contract between Yellow and everyone else. Records are soft state: an instance that misses
 * `missLimit` heartbeats (default 3) is down and a `down` event says so.
 */

/** What a Thrift service instance tells the broker about its methods. */
export interface ServiceMethods {
  /** Thrift service name as used in multiplexed names, e.g. "Player". */
  thriftService: string;
  methods: string[];
  /** callable before login (Sso:login, Sso:register, Sso:resume, *:ping) */
  publicMethods: string[];
  /** safe to retry once on another instance (keyed by idempotency ids, or read-only) */
  idempotentMethods: string[];
  /** service-to-service only; the broker refuses them from clients */
  internalMethods: string[];
  /** stateful services get session -> instance bindings (rendezvous hash by default) */
  stateful: boolean;
  /**
   * A stateful service whose state outlives its instances (kept in Postgres): when a bound
   * instance is gone, the session moves to another one instead of getting STATE_LOST.
   */
  durable?: boolean;
}

export interface InstanceEndpoints {
  /** ZeroMQ ROUTER of a service (requests), or of Yellow itself */
  router?: string;
  /** ZeroMQ ROUTER of a service for other services (internal methods); `router` is the brokers' */
  internal?: string;
  /** ZeroMQ PUB of a service (room messages) or of Yellow (events) */
  pub?: string;
  /** ROUTER of a broker that services push to */
  push?: string;
  /** ZeroMQ PULL of a worker that job dispatchers push jobs to */
  pull?: string;
  /** Prometheus metrics, http://host:port/metrics */
  metrics?: string;
  /** broker public framed-Thrift TCP endpoint host:port */
  tcp?: string;
  /** broker public WebSocket endpoint ws://host:port */
  ws?: string;
  /** BrokerList HTTP endpoint http://host:port */
  http?: string;
  /** broker public framed-Thrift-over-TLS endpoint host:port */
  tls?: string;
  /** broker public WebSocket-over-TLS endpoint wss://host:port */
  wss?: string;
  /** BrokerList HTTPS endpoint https://host:port */
  https?: string;
}

export interface InstanceLoad {
  inFlight: number;
  /** event-loop utilisation 0..1 */
  elu: number;
  /** brokers: client connections */
  connections?: number;
  /** brokers: 0 idle .. 1 full, as BrokerList reports it */
  score?: number;
}

/** What an instance sends when it registers. */
export interface InstanceRegistration {
  /** 'yellow' | 'brokerlist' | 'broker' | a service role ('sso', 'player', 'duel', 'chat', 'leaderboard') */
  role: string;
  instanceId: string;
  host: string;
  endpoints: InstanceEndpoints;
  /** present for service roles */
  service?: ServiceMethods;
  version: string;
  pid: number;
  startedAt: number;
  load: InstanceLoad;
  /** with CURVE: the instance's public key (Z85), which its server sockets hold and clients pin */
  curveKey?: string;
  /** with CURVE: HMAC proving the registrant holds curveKey's secret (shared/curve.ts); never stored */
  proof?: string;
  /**
   * The instance's own belief that it is draining, re-asserted when it registers so that a Yellow
   * that restarted (and forgot the operator's `drain`) learns it again.
   */
  draining?: boolean;
}

/** What Yellow keeps and answers with. */
export interface InstanceRecord extends InstanceRegistration {
  draining: boolean;
  /** Yellow's clock (ms since epoch) at the last heartbeat */
  lastHeartbeat: number;
  /** increases on every (re-)registration of this instance id: fences a zombie's old incarnation */
  epoch: number;
  /** how long the instance's main event loop had made no progress, from its last heartbeat (absent: not stalled) */
  stalledMs?: number;
}

/**
 * A change (`up`, `down`, `load`, `draining`) carries `v`, the publishing Yellow's table version
 * after it: one more than the previous change's, so a consumer that sees a jump knows it missed
 * one. `tick` is no change: Yellow sends its current version every heartbeat, so a consumer also
 * notices a lost last change. Events from a Yellow older than versions carry no `v`.
 */
export type YellowEvent = (
  | { type: 'up'; instance: InstanceRecord }
  | { type: 'down'; instanceId: string; role: string; reason: 'expired' | 'deregistered' }
  | { type: 'load'; instanceId: string; load: InstanceLoad }
  | { type: 'draining'; instanceId: string; draining: boolean }
  | { type: 'tick'; startedAt: number }
) & { v?: number };
