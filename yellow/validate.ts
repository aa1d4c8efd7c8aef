/**
 * Validation of everything Yellow accepts from the network. A registration is untrusted input:
 * it is checked field by field and copied into a fresh object (unknown keys are dropped), so a
 * record never carries more than these bounds allow. Limits exist to keep one record, and one
 * `query` answer of a few hundred records, far under the 64 KiB control-message cap.
 */
import { NoonError } from '../shared/errors';
import type { InstanceEndpoints, InstanceLoad, InstanceRecord, InstanceRegistration, ServiceMethods } from './types';

export const LIMITS = {
  id: 128,
  role: 64,
  host: 255,
  version: 64,
  endpoint: 256,
  name: 128,
  methods: 512,
} as const;

/** A bad field; `field` is its dotted path, e.g. `endpoints.router`. */
export class RegistrationError extends NoonError {
  readonly field: string;
  constructor(field: string, problem: string) {
    super('BAD_REQUEST', `registration field ${field}: ${problem}`);
    this.name = 'RegistrationError';
    this.field = field;
  }
}

const Z85_KEY_RE = /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/;
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:@-]*$/;
const ZMQ_TCP_RE = /^tcp:\/\/([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})$/;
const HOST_PORT_RE = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})$/;
const URL_RE: Record<'http' | 'ws', RegExp> = {
  http: /^https?:\/\/([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})(\/[\x21-\x7e]*)?$/,
  ws: /^wss?:\/\/([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})(\/[\x21-\x7e]*)?$/,
};

type Obj = Record<string, unknown>;

export function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(o: Obj, field: string, path: string, max: number, re?: RegExp): string {
  const v = o[field];
  if (typeof v !== 'string' || v.length === 0) throw new RegistrationError(path, 'must be a non-empty string');
  if (v.length > max) throw new RegistrationError(path, `longer than ${max} characters`);
  if (re && !re.test(v)) throw new RegistrationError(path, `${JSON.stringify(v.slice(0, 64))} has a bad format`);
  return v;
}

function num(o: Obj, field: string, path: string, min: number, max: number, integer = false): number {
  const v = o[field];
  if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
    throw new RegistrationError(path, integer ? 'must be an integer' : 'must be a finite number');
  }
  if (v < min || v > max) throw new RegistrationError(path, `${v} is outside ${min}..${max}`);
  return v;
}

function port(m: RegExpMatchArray | null, path: string, value: string): void {
  const p = m ? Number(m[2]) : NaN;
  if (!(p >= 1 && p <= 65535))
    throw new RegistrationError(path, `${JSON.stringify(value.slice(0, 64))} needs a port 1..65535`);
}

function endpoint(
  o: Obj,
  field: keyof InstanceEndpoints,
  kind: 'zmq' | 'hostport' | 'http' | 'ws',
): string | undefined {
  if (o[field] === undefined) return undefined;
  const path = `endpoints.${field}`;
  const v = str(o, field, path, LIMITS.endpoint);
  const re = kind === 'zmq' ? ZMQ_TCP_RE : kind === 'hostport' ? HOST_PORT_RE : URL_RE[kind];
  const m = v.match(re);
  if (!m) {
    const want = kind === 'zmq' ? 'tcp://host:port' : kind === 'hostport' ? 'host:port' : `${kind}://host:port[/path]`;
    throw new RegistrationError(path, `${JSON.stringify(v.slice(0, 64))} is not ${want}`);
  }
  port(m, path, v);
  return v;
}

function endpoints(v: unknown): InstanceEndpoints {
  if (!isObject(v)) throw new RegistrationError('endpoints', 'must be an object');
  const out: InstanceEndpoints = {};
  const set = (k: keyof InstanceEndpoints, val: string | undefined): void => {
    if (val !== undefined) out[k] = val;
  };
  set('router', endpoint(v, 'router', 'zmq'));
  set('internal', endpoint(v, 'internal', 'zmq'));
  set('pub', endpoint(v, 'pub', 'zmq'));
  set('push', endpoint(v, 'push', 'zmq'));
  set('metrics', endpoint(v, 'metrics', 'http'));
  set('tcp', endpoint(v, 'tcp', 'hostport'));
  set('ws', endpoint(v, 'ws', 'ws'));
  set('http', endpoint(v, 'http', 'http'));
  set('tls', endpoint(v, 'tls', 'hostport'));
  set('wss', endpoint(v, 'wss', 'ws'));
  set('https', endpoint(v, 'https', 'http'));
  return out;
}

function names(o: Obj, field: string, path: string): string[] {
  const v = o[field];
  if (!Array.isArray(v)) throw new RegistrationError(path, 'must be an array of strings');
  if (v.length > LIMITS.methods) throw new RegistrationError(path, `more than ${LIMITS.methods} entries`);
  return v.map((item, i) => str({ item }, 'item', `${path}[${i}]`, LIMITS.name, ID_RE));
}

function service(v: unknown): ServiceMethods {
  if (!isObject(v)) throw new RegistrationError('service', 'must be an object');
  if (typeof v.stateful !== 'boolean') throw new RegistrationError('service.stateful', 'must be a boolean');
  if (v.durable !== undefined && typeof v.durable !== 'boolean')
    throw new RegistrationError('service.durable', 'must be a boolean');
  return {
    thriftService: str(v, 'thriftService', 'service.thriftService', LIMITS.name, ID_RE),
    methods: names(v, 'methods', 'service.methods'),
    publicMethods: names(v, 'publicMethods', 'service.publicMethods'),
    idempotentMethods: names(v, 'idempotentMethods', 'service.idempotentMethods'),
    internalMethods: names(v, 'internalMethods', 'service.internalMethods'),
    stateful: v.stateful,
    ...(v.durable === true ? { durable: true } : {}),
  };
}

/** Checks a heartbeat's load; `path` prefixes field names in errors. */
export function validateLoad(v: unknown, path = 'load'): InstanceLoad {
  if (!isObject(v)) throw new RegistrationError(path, 'must be an object');
  const out: InstanceLoad = {
    inFlight: num(v, 'inFlight', `${path}.inFlight`, 0, 1e9, true),
    elu: num(v, 'elu', `${path}.elu`, 0, 1),
  };
  if (v.connections !== undefined) out.connections = num(v, 'connections', `${path}.connections`, 0, 1e9, true);
  if (v.score !== undefined) out.score = num(v, 'score', `${path}.score`, 0, 1);
  return out;
}

/** Returns a clean copy of a registration or throws RegistrationError naming the first bad field. */
export function validateRegistration(v: unknown): InstanceRegistration {
  if (!isObject(v)) throw new RegistrationError('(root)', 'must be an object');
  const out: InstanceRegistration = {
    role: str(v, 'role', 'role', LIMITS.role, ID_RE),
    instanceId: str(v, 'instanceId', 'instanceId', LIMITS.id, ID_RE),
    host: str(v, 'host', 'host', LIMITS.host, /^([A-Za-z0-9.-]+|[0-9A-Fa-f:.]+)$/),
    endpoints: endpoints(v.endpoints),
    version: str(v, 'version', 'version', LIMITS.version, /^[\x21-\x7e]+$/),
    pid: num(v, 'pid', 'pid', 0, 2 ** 31, true),
    startedAt: num(v, 'startedAt', 'startedAt', 0, 8.64e15),
    load: validateLoad(v.load),
  };
  if (v.service !== undefined) out.service = service(v.service);
  if (v.curveKey !== undefined) out.curveKey = str(v, 'curveKey', 'curveKey', 40, Z85_KEY_RE);
  if (v.proof !== undefined) out.proof = str(v, 'proof', 'proof', 64, /^[0-9a-f]{64}$/);
  if (v.draining !== undefined) {
    if (typeof v.draining !== 'boolean') throw new RegistrationError('draining', 'must be a boolean');
    if (v.draining) out.draining = true;
  }
  return out;
}

/** A record as a Yellow answers it; used by clients so a broken Yellow cannot poison a table. */
export function validateRecord(v: unknown): InstanceRecord {
  const reg = validateRegistration(v);
  const o = v as Obj;
  if (typeof o.draining !== 'boolean') throw new RegistrationError('draining', 'must be a boolean');
  const record: InstanceRecord = {
    ...reg,
    draining: o.draining,
    lastHeartbeat: num(o, 'lastHeartbeat', 'lastHeartbeat', 0, 8.64e15),
    epoch: num(o, 'epoch', 'epoch', 0, Number.MAX_SAFE_INTEGER, true),
  };
  if (o.stalledMs !== undefined) record.stalledMs = num(o, 'stalledMs', 'stalledMs', 0, 1e9, true);
  return record;
}
