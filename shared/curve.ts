/**
 * CURVE on the internal plane, with a key per role. Every internal server socket is a CURVE
 * server whose ZAP domain names who may connect to it (its audience); every client pins the key of
 * the server it connects to. One ZAP handler per process answers libzmq's ZAP requests (RFC 27):
 * 200 for a client key in the keyring whose role the socket's audience admits, 400 otherwise
 * (without a handler libzmq would accept any client key, hence zapEnforceDomain: fail closed).
 *
 * A ROUTER cannot tell which key sent a given message, so the audience is per socket: a service
 * binds one ROUTER for brokers and one for services, and what a message may do follows from the
 * socket it arrived on.
 */
import { createHmac, createPrivateKey, createPublicKey, diffieHellman, timingSafeEqual } from 'node:crypto';
import * as zmq from 'zeromq';
import type { Keyring } from './keyring';
import type { Logger } from './log';

export interface CurveKeys {
  /** the role this process holds a key of */
  role: string;
  /** Z85, 40 characters */
  publicKey: string;
  secretKey: string;
  /** every role's public keys */
  keyring: Keyring;
}

/** Who may connect to a server socket. */
export type Audience = 'any' | 'broker' | 'service';

/** Roles that are not services: their keys never pass a `service` socket. */
export const INFRA_KEY_ROLES: readonly string[] = ['yellow', 'broker', 'brokerlist', 'console', 'operator'];

const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';
const Z85 = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';

/** Decodes a Z85 key (ZMQ RFC 32) to its 32 bytes; throws on anything else. */
export function z85Decode(text: string): Buffer {
  if (text.length % 5 !== 0) throw new Error(`Z85 text of ${text.length} characters is not a multiple of 5`);
  const out = Buffer.alloc((text.length / 5) * 4);
  for (let i = 0; i < text.length; i += 5) {
    let value = 0;
    for (let j = 0; j < 5; j++) {
      const digit = Z85.indexOf(text[i + j] as string);
      if (digit < 0) throw new Error(`invalid Z85 character ${JSON.stringify(text[i + j])}`);
      value = value * 85 + digit;
    }
    out.writeUInt32BE(value >>> 0, (i / 5) * 4);
  }
  return out;
}

/** Encodes 32 bytes (a key as ZAP hands it over) as Z85. */
export function z85Encode(bytes: Buffer): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 4) {
    let value = bytes.readUInt32BE(i);
    let chunk = '';
    for (let j = 0; j < 5; j++) {
      chunk = (Z85[value % 85] as string) + chunk;
      value = Math.floor(value / 85);
    }
    out += chunk;
  }
  return out;
}

/** Whether a key of `role` may connect to a socket for `audience`. */
export function admits(audience: Audience, role: string | undefined): boolean {
  if (role === undefined) return false;
  if (audience === 'broker') return role === 'broker';
  if (audience === 'service') return !INFRA_KEY_ROLES.includes(role);
  return true;
}

const domainOf = (audience: Audience): string => `noon.${audience}`;

/** Socket options for an internal server socket (ROUTER, PUB) admitting `audience`. */
export function curveServerOptions(
  keys: CurveKeys | undefined,
  audience: Audience,
): {
  curveServer?: boolean;
  curveSecretKey?: string;
  zapDomain?: string;
  zapEnforceDomain?: boolean;
} {
  return keys
    ? { curveServer: true, curveSecretKey: keys.secretKey, zapDomain: domainOf(audience), zapEnforceDomain: true }
    : {};
}

/** Socket options for an internal client socket (DEALER, SUB) connecting to the server holding `serverKey`. */
export function curveClientOptions(
  keys: CurveKeys | undefined,
  serverKey: string | undefined,
): {
  curveServerKey?: string;
  curvePublicKey?: string;
  curveSecretKey?: string;
} {
  if (!keys) return {};
  // A server that advertised no key cannot be authenticated: pin our own, which fails the handshake.
  return {
    curveServerKey: serverKey ?? keys.publicKey,
    curvePublicKey: keys.publicKey,
    curveSecretKey: keys.secretKey,
  };
}

/** The key Yellow's sockets hold: the newest yellow key of the keyring. */
export function yellowKeyOf(keys: CurveKeys): string {
  const all = keys.keyring.keysOf('yellow');
  const newest = all[all.length - 1];
  if (newest === undefined) throw new Error(`${keys.keyring.file}: the keyring has no yellow key`);
  return newest;
}

// ---- registration proof: the registrant holds the secret of the key it registers with ----

const X25519_PKCS8 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const X25519_SPKI = Buffer.from('302a300506032b656e032100', 'hex');

/** X25519(secret, public): what two keys share; each side computes it from its own secret. */
export function sharedSecret(secretKey: string, publicKey: string): Buffer {
  return diffieHellman({
    privateKey: createPrivateKey({
      key: Buffer.concat([X25519_PKCS8, z85Decode(secretKey)]),
      format: 'der',
      type: 'pkcs8',
    }),
    publicKey: createPublicKey({
      key: Buffer.concat([X25519_SPKI, z85Decode(publicKey)]),
      format: 'der',
      type: 'spki',
    }),
  });
}

const proofText = (instanceId: string, role: string, curveKey: string): string =>
  `noon-register/1\n${instanceId}\n${role}\n${curveKey}`;

/** What a registrant sends: an HMAC keyed by X25519(its secret, Yellow's public key). */
export function registrationProof(keys: CurveKeys, yellowKey: string, instanceId: string, role: string): string {
  return createHmac('sha256', sharedSecret(keys.secretKey, yellowKey))
    .update(proofText(instanceId, role, keys.publicKey))
    .digest('hex');
}

/** Yellow's check of a registration proof, with its own secret key. */
export function verifyRegistrationProof(
  yellow: CurveKeys,
  curveKey: string,
  instanceId: string,
  role: string,
  proof: string,
): boolean {
  let expected: Buffer;
  try {
    expected = createHmac('sha256', sharedSecret(yellow.secretKey, curveKey))
      .update(proofText(instanceId, role, curveKey))
      .digest();
  } catch {
    return false;
  }
  const got = Buffer.from(proof, 'hex');
  return got.length === expected.length && timingSafeEqual(got, expected);
}

// ---- refusals, counted by whoever listens (each role host's metrics) ----

/**
 * `unknown_key`, `wrong_role`, `handshake`: refused at the handshake; `registration`: a Yellow
 * registration refused for its key (admission).
 */
export type RefusalReason = 'unknown_key' | 'wrong_role' | 'handshake' | 'registration';
export const REFUSAL_REASONS: readonly RefusalReason[] = ['unknown_key', 'wrong_role', 'handshake', 'registration'];
const refusalListeners = new Set<(reason: RefusalReason) => void>();

/** Calls `listener` for every internal peer refused in this process; returns the unsubscribe. */
export function onRefusal(listener: (reason: RefusalReason) => void): () => void {
  refusalListeners.add(listener);
  return () => refusalListeners.delete(listener);
}

/** Counts one refused internal peer or request in every listener of this process. */
export function refused(reason: RefusalReason): void {
  for (const l of refusalListeners) l(reason);
}

/**
 * Counts a server socket's failed handshakes that never reach ZAP (a plaintext peer, a client
 * pinning the wrong server key, garbage). ZAP refusals are counted by the handler itself.
 */
export function watchHandshakes(socket: zmq.Socket, keys: CurveKeys | undefined): void {
  if (!keys) return;
  socket.events.on('handshake:error:protocol', () => refused('handshake'));
  socket.events.on('handshake:error:other', () => refused('handshake'));
}

/**
 * The ZAP handler is one per ZeroMQ context, i.e. per process (libzmq looks it up at a fixed
 * inproc endpoint): components share it, which is why this one piece of state is module-level.
 */
let zap: Promise<void> | undefined;
let zapRouter: zmq.Router | undefined;

/** Starts the process's ZAP handler once; every CURVE server must await this before binding. */
export function ensureZap(keys: CurveKeys, logger: Logger): Promise<void> {
  zap ??= startZap(keys.keyring, logger);
  return zap;
}

function decide(keyring: Keyring, domain: string, mechanism: string, key: Buffer | undefined): RefusalReason | 'ok' {
  if (mechanism !== 'CURVE' || key === undefined || key.length !== 32) return 'handshake';
  const role = keyring.roleOf(z85Encode(key));
  if (role === undefined) return 'unknown_key';
  const audience = domain.startsWith('noon.') ? (domain.slice(5) as Audience) : undefined;
  return audience !== undefined && ['any', 'broker', 'service'].includes(audience) && admits(audience, role)
    ? 'ok'
    : 'wrong_role';
}

async function startZap(keyring: Keyring, logger: Logger): Promise<void> {
  const router = new zmq.Router({ linger: 0 });
  zapRouter = router;
  await router.bind(ZAP_ENDPOINT);
  void (async () => {
    try {
      for await (const [id, delimiter, version, requestId, domain, address, , mechanism, key] of router) {
        let verdict: RefusalReason | 'ok';
        try {
          verdict =
            version?.toString() === '1.0'
              ? decide(keyring, domain?.toString() ?? '', mechanism?.toString() ?? '', key)
              : 'handshake';
        } catch (err) {
          // An unreadable keyring admits nobody.
          logger.error({ err: (err as Error).message }, 'ZAP: keyring unreadable; refusing');
          verdict = 'unknown_key';
        }
        if (verdict !== 'ok') {
          refused(verdict);
          logger.warn(
            { address: address?.toString(), domain: domain?.toString(), reason: verdict },
            'ZAP: refused an internal peer',
          );
        }
        await router.send([
          id as Buffer,
          delimiter ?? Buffer.alloc(0),
          '1.0',
          requestId ?? Buffer.alloc(0),
          verdict === 'ok' ? '200' : '400',
          verdict === 'ok' ? 'OK' : verdict,
          verdict === 'ok' ? 'noon' : '',
          '',
        ]);
      }
    } catch (err) {
      if (router.closed) return;
      // Without its ZAP handler every CURVE handshake fails (zapEnforceDomain): fatal by design.
      logger.fatal({ err }, 'ZAP handler stopped: internal authentication is down');
      process.exit(1);
    }
  })();
}

/** Stops the process's ZAP handler (clean shutdown, tests); CURVE handshakes fail from then on. */
export function stopZap(): void {
  zapRouter?.close();
  zapRouter = undefined;
  zap = undefined;
}
