/**
 * CURVE on the internal plane (opt-in: NOON_CURVE_PUBLIC + NOON_CURVE_SECRET). Every internal
 * server socket is a CURVE server with ZAP domain "noon" enforced, so a missing ZAP handler fails
 * closed; every client pins the cluster's server key. One ZAP handler per process answers
 * libzmq's ZAP requests (RFC 27): 200 for an allowed client public key, 400 for anything else
 * (without a handler libzmq would accept any client key).
 */
import * as zmq from 'zeromq';
import type { Logger } from './log';

export interface CurveKeys {
  /** Z85, 40 characters */
  publicKey: string;
  secretKey: string;
  /** client public keys allowed besides the cluster's own */
  allow: readonly string[];
}

export const ZAP_DOMAIN = 'noon';
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

/** Socket options for an internal server socket (ROUTER, PUB). */
export function curveServerOptions(keys: CurveKeys | undefined): {
  curveServer?: boolean;
  curveSecretKey?: string;
  zapDomain?: string;
  zapEnforceDomain?: boolean;
} {
  return keys
    ? { curveServer: true, curveSecretKey: keys.secretKey, zapDomain: ZAP_DOMAIN, zapEnforceDomain: true }
    : {};
}

/** Socket options for an internal client socket (DEALER, SUB): pins the cluster's server key. */
export function curveClientOptions(keys: CurveKeys | undefined): {
  curveServerKey?: string;
  curvePublicKey?: string;
  curveSecretKey?: string;
} {
  return keys ? { curveServerKey: keys.publicKey, curvePublicKey: keys.publicKey, curveSecretKey: keys.secretKey } : {};
}

/**
 * The ZAP handler is one per ZeroMQ context, i.e. per process (libzmq looks it up at a fixed
 * inproc endpoint): components share it, which is why this one piece of state is module-level.
 */
let zap: Promise<void> | undefined;
let zapRouter: zmq.Router | undefined;

/** Starts the process's ZAP handler once; every CURVE server must await this before binding. */
export function ensureZap(keys: CurveKeys, logger: Logger): Promise<void> {
  zap ??= startZap(keys, logger);
  return zap;
}

async function startZap(keys: CurveKeys, logger: Logger): Promise<void> {
  const allowed = new Set([keys.publicKey, ...keys.allow].map((k) => z85Decode(k).toString('hex')));
  const router = new zmq.Router({ linger: 0 });
  zapRouter = router;
  await router.bind(ZAP_ENDPOINT);
  void (async () => {
    try {
      for await (const [id, delimiter, version, requestId, domain, address, , mechanism, key] of router) {
        const ok =
          version?.toString() === '1.0' &&
          domain?.toString() === ZAP_DOMAIN &&
          mechanism?.toString() === 'CURVE' &&
          key !== undefined &&
          allowed.has(key.toString('hex'));
        if (!ok)
          logger.warn(
            { address: address?.toString(), mechanism: mechanism?.toString(), domain: domain?.toString() },
            'ZAP: refused an internal peer (key not allowed)',
          );
        await router.send([
          id as Buffer,
          delimiter ?? Buffer.alloc(0),
          '1.0',
          requestId ?? Buffer.alloc(0),
          ok ? '200' : '400',
          ok ? 'OK' : 'key not allowed',
          ok ? 'noon' : '',
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
