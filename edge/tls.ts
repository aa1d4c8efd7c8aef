/**
 * The client-facing TLS certificate: one PEM certificate file (the server certificate, then any
 * intermediates) and one PEM private key file, from --tls-cert / --tls-key. Read and checked at
 * start (a missing file, a file that is not PEM, or a key that does not belong to the
 * certificate is a ConfigError naming the option), and read again on SIGHUP: every listener that
 * uses it (broker TLS and wss, BrokerList HTTPS) gets the new pair through
 * tls.Server.setSecureContext, so connections accepted from then on see the new certificate and
 * connections already open keep the session they negotiated. A reload that fails (half-written
 * files, a mismatched pair) is logged and changes nothing.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { createSecureContext, type Server as TlsServer } from 'node:tls';
import { ConfigError, type Config } from '../shared/config';
import type { Logger } from '../shared/log';

export const TLS_CERT_OPTION = '--tls-cert / NOON_TLS_CERT';
export const TLS_KEY_OPTION = '--tls-key / NOON_TLS_KEY';

/** One checked certificate/key pair, as the listeners take it. */
export interface TlsPair {
  cert: Buffer;
  key: Buffer;
  /** SHA-256 fingerprint of the server certificate (what a client can compare) */
  fingerprint256: string;
  subject: string;
  subjectAltName: string;
  validTo: string;
}

function readPem(path: string, option: string, what: string): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new ConfigError(option, `cannot read the ${what} file ${JSON.stringify(path)}: ${(err as Error).message}`);
  }
  if (!bytes.includes('-----BEGIN ')) throw new ConfigError(option, `${JSON.stringify(path)} is not a PEM ${what}`);
  return bytes;
}

/** Reads and checks a pair; throws a ConfigError naming the option at fault. */
export function readTlsPair(certPath: string, keyPath: string): TlsPair {
  const cert = readPem(certPath, TLS_CERT_OPTION, 'certificate');
  const key = readPem(keyPath, TLS_KEY_OPTION, 'private key');
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new ConfigError(
      TLS_CERT_OPTION,
      `${JSON.stringify(certPath)} is not a PEM certificate: ${(err as Error).message}`,
    );
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new ConfigError(
      TLS_KEY_OPTION,
      `${JSON.stringify(keyPath)} is not a PEM private key (or it is encrypted): ${(err as Error).message}`,
    );
  }
  if (!x509.checkPrivateKey(privateKey))
    throw new ConfigError(
      TLS_KEY_OPTION,
      `the key in ${JSON.stringify(keyPath)} does not belong to the certificate in ${JSON.stringify(certPath)} (${TLS_CERT_OPTION})`,
    );
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new ConfigError(TLS_CERT_OPTION, `OpenSSL refuses the pair: ${(err as Error).message}`);
  }
  return {
    cert,
    key,
    fingerprint256: x509.fingerprint256,
    subject: x509.subject.replace(/\n/g, ', '),
    subjectAltName: x509.subjectAltName ?? '',
    validTo: x509.validTo,
  };
}

/** True when the certificate names `host` (an IP SAN for an address, a DNS name otherwise). */
export function certificateNames(pair: TlsPair, host: string): boolean {
  const x509 = new X509Certificate(pair.cert);
  const h = host.replace(/^\[|\]$/g, '');
  return isIP(h) ? x509.checkIP(h) !== undefined : x509.checkHost(h) !== undefined;
}

/**
 * The current pair and the servers using it. One per role; `noon up` has two (broker and
 * BrokerList), each reloading on the same SIGHUP.
 */
export class TlsCredentials {
  private current: TlsPair;
  private readonly servers = new Set<TlsServer>();

  constructor(
    private readonly certPath: string,
    private readonly keyPath: string,
    private readonly logger: Logger,
  ) {
    this.current = readTlsPair(certPath, keyPath);
  }

  /** The credentials configured in cfg (ConfigError if the files are bad), or undefined without TLS. */
  static fromConfig(cfg: Config, logger: Logger): TlsCredentials | undefined {
    if (cfg.tlsCert === undefined || cfg.tlsKey === undefined) return undefined;
    const creds = new TlsCredentials(cfg.tlsCert, cfg.tlsKey, logger);
    if (cfg.host !== '0.0.0.0' && cfg.host !== '::' && !certificateNames(creds.pair, cfg.host))
      logger.warn(
        { host: cfg.host, subjectAltName: creds.pair.subjectAltName },
        'the TLS certificate does not name the advertised host: clients that check the hostname will refuse it',
      );
    return creds;
  }

  get pair(): TlsPair {
    return this.current;
  }

  /** What tls.createServer / https.createServer take. */
  secureOptions(): { cert: Buffer; key: Buffer } {
    return { cert: this.current.cert, key: this.current.key };
  }

  /** A listener that uses this pair: it gets every reloaded pair until it closes. */
  use(server: TlsServer): void {
    this.servers.add(server);
    server.once('close', () => this.servers.delete(server));
  }

  /** Reads the files again; on success every listener switches to the new pair. Never throws. */
  reload(): { ok: true; pair: TlsPair } | { ok: false; error: string } {
    let next: TlsPair;
    try {
      next = readTlsPair(this.certPath, this.keyPath);
    } catch (err) {
      const error = (err as Error).message;
      this.logger.error({ err: error }, 'TLS reload failed: keeping the current certificate');
      return { ok: false, error };
    }
    for (const s of this.servers) s.setSecureContext({ cert: next.cert, key: next.key });
    const changed = next.fingerprint256 !== this.current.fingerprint256;
    this.current = next;
    this.logger.info(
      { fingerprint256: next.fingerprint256, validTo: next.validTo, listeners: this.servers.size, changed },
      'TLS certificate reloaded',
    );
    return { ok: true, pair: next };
  }

  /** Reloads on every SIGHUP until the returned function is called. */
  reloadOnSighup(): () => void {
    const onHup = (): void => void this.reload();
    process.on('SIGHUP', onHup);
    return () => process.off('SIGHUP', onHup);
  }
}
