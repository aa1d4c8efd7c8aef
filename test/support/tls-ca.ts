/**
 * A throwaway PKI for TLS tests, made with the machine's `openssl`: a root CA and server
 * certificates it signs (SAN IP:127.0.0.1 and DNS:localhost unless told otherwise), each in its
 * own PEM files under one temp dir. Nothing here is trusted by the system store.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCa {
  dir: string;
  /** the CA certificate, PEM file path */
  certPath: string;
  keyPath: string;
  /** the CA certificate, PEM */
  pem: Buffer;
  /** A server certificate signed by this CA; `san` defaults to IP:127.0.0.1,DNS:localhost. */
  issue(name: string, san?: string): ServerCert;
  remove(): void;
}

export interface ServerCert {
  certPath: string;
  keyPath: string;
  /** SHA-256 fingerprint, as Node's getPeerCertificate().fingerprint256 shows it */
  fingerprint256: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

export function makeTestCa(label: string, parent?: string): TestCa {
  const dir = parent ?? mkdtempSync(join(tmpdir(), 'noon-tls-'));
  const certPath = join(dir, `${label}-ca.pem`);
  const keyPath = join(dir, `${label}-ca.key`);
  openssl(
    [
      'req',
      '-x509',
      ...EC,
      '-keyout',
      keyPath,
      '-out',
      certPath,
      '-days',
      '2',
      '-subj',
      `/CN=noon test CA ${label}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  return {
    dir,
    certPath,
    keyPath,
    pem: readFileSync(certPath),
    issue(name, san = 'IP:127.0.0.1,DNS:localhost') {
      const key = join(dir, `${name}.key`);
      const csr = join(dir, `${name}.csr`);
      const cert = join(dir, `${name}.pem`);
      const ext = join(dir, `${name}.ext`);
      writeFileSync(
        ext,
        `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n`,
      );
      openssl(['req', ...EC, '-keyout', key, '-out', csr, '-subj', `/CN=${name}`], dir);
      openssl(
        [
          'x509',
          '-req',
          '-in',
          csr,
          '-CA',
          certPath,
          '-CAkey',
          keyPath,
          '-set_serial',
          `0x${randomBytes(8).toString('hex')}`,
          '-days',
          '2',
          '-extfile',
          ext,
          '-out',
          cert,
        ],
        dir,
      );
      return { certPath: cert, keyPath: key, fingerprint256: new X509Certificate(readFileSync(cert)).fingerprint256 };
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
