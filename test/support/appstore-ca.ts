/**
 * A certificate authority of our own for App Store tests: EC P-256 root → intermediate → leaf,
 * X.509 v3 certificates written in DER here (node:crypto signs, nothing else is needed), with
 * Apple's marker extensions where Apple puts them, and StoreKit 2 signed transactions (compact
 * JWS, ES256, `x5c` header) made with them. No real Apple certificate is involved anywhere.
 */
import { createHash, generateKeyPairSync, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { APPLE_INTERMEDIATE_MARKER_OID, APPLE_LEAF_MARKER_OID } from '../../services/player/receipts/appstore';

// ---- DER -------------------------------------------------------------------------------------

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

const tlv = (tag: number, ...content: Buffer[]): Buffer => {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
};
const seq = (...c: Buffer[]): Buffer => tlv(0x30, ...c);
const set = (...c: Buffer[]): Buffer => tlv(0x31, ...c);
const octets = (b: Buffer): Buffer => tlv(0x04, b);
const bits = (b: Buffer, unused = 0): Buffer => tlv(0x03, Buffer.from([unused]), b);
const bool = (v: boolean): Buffer => tlv(0x01, Buffer.from([v ? 0xff : 0]));
const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));
const NULL = Buffer.from([0x05, 0x00]);

function int(n: Buffer): Buffer {
  let b = n;
  while (b.length > 1 && b[0] === 0 && ((b[1] as number) & 0x80) === 0) b = b.subarray(1);
  if (((b[0] as number) & 0x80) !== 0) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
}

function oid(s: string): Buffer {
  const [a, b, ...rest] = s.split('.').map(Number) as [number, number, ...number[]];
  const out: number[] = [40 * a + b];
  for (const v of rest) {
    const chunk: number[] = [v & 0x7f];
    for (let x = Math.floor(v / 128); x > 0; x = Math.floor(x / 128)) chunk.unshift(0x80 | (x & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14); // YYYYMMDDHHMMSS
  const y = d.getUTCFullYear();
  return y >= 1950 && y < 2050 ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`)) : tlv(0x18, Buffer.from(`${iso}Z`));
}

const name = (cn: string): Buffer =>
  seq(set(seq(oid('2.5.4.3'), utf8(cn))), set(seq(oid('2.5.4.10'), utf8('noon test CA (not Apple)'))));

const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));

function ext(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));
}

// ---- certificates ------------------------------------------------------------------------------

export interface TestCert {
  cn: string;
  der: Buffer;
  pem: string;
  key: KeyObject;
  publicKey: KeyObject;
  x509: X509Certificate;
}

export interface CertSpec {
  cn: string;
  /** the issuer; absent = self-signed (a root) */
  issuer?: TestCert;
  ca: boolean;
  /** extension OIDs with a NULL value (Apple's markers) */
  markers?: string[];
  notBefore?: Date;
  notAfter?: Date;
  /** leave out the subject and authority key identifiers (then only names tie a chain) */
  noKeyIds?: boolean;
  /** the subject's key pair (default: a new P-256 one) */
  keyPair?: { privateKey: KeyObject; publicKey: KeyObject };
}

const DAY = 86_400_000;
let serial = 1;

const newKeyPair = (): { privateKey: KeyObject; publicKey: KeyObject } =>
  generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

const keyId = (publicKey: KeyObject): Buffer =>
  createHash('sha1')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest();

export function makeCert(spec: CertSpec): TestCert {
  const { privateKey, publicKey } = spec.keyPair ?? newKeyPair();
  const signer = spec.issuer?.key ?? privateKey;
  const issuerKey = spec.issuer?.publicKey ?? publicKey;
  const now = Date.now();
  const extensions = [
    ext('2.5.29.19', true, spec.ca ? seq(bool(true)) : seq()),
    // keyCertSign + cRLSign for a CA, digitalSignature for a leaf
    ext('2.5.29.15', true, spec.ca ? bits(Buffer.from([0x06]), 1) : bits(Buffer.from([0x80]), 7)),
    ...(spec.noKeyIds
      ? []
      : [ext('2.5.29.14', false, octets(keyId(publicKey))), ext('2.5.29.35', false, seq(tlv(0x80, keyId(issuerKey))))]),
    ...(spec.markers ?? []).map((m) => ext(m, false, NULL)),
  ];
  const tbs = seq(
    tlv(0xa0, int(Buffer.from([2]))),
    int(Buffer.from((serial++).toString(16).padStart(16, '0'), 'hex')),
    ECDSA_SHA256,
    name(spec.issuer?.cn ?? spec.cn),
    seq(time(spec.notBefore ?? new Date(now - DAY)), time(spec.notAfter ?? new Date(now + 365 * DAY))),
    name(spec.cn),
    publicKey.export({ type: 'spki', format: 'der' }),
    tlv(0xa3, seq(...extensions)),
  );
  const der = seq(tbs, ECDSA_SHA256, bits(sign('sha256', tbs, signer)));
  const x509 = new X509Certificate(der);
  return { cn: spec.cn, der, pem: x509.toString(), key: privateKey, publicKey, x509 };
}

export interface AppStoreChain {
  root: TestCert;
  intermediate: TestCert;
  leaf: TestCert;
}

/** Root → intermediate (Apple's WWDR marker) → leaf (Apple's receipt-signing marker). */
export function makeChain(
  opts: { leaf?: Partial<CertSpec>; intermediate?: Partial<CertSpec>; root?: TestCert } = {},
): AppStoreChain {
  const root = opts.root ?? makeCert({ cn: 'noon test root CA', ca: true });
  const intermediate = makeCert({
    cn: 'noon test WWDR intermediate',
    issuer: root,
    ca: true,
    markers: [APPLE_INTERMEDIATE_MARKER_OID],
    ...opts.intermediate,
  });
  const leaf = makeCert({
    cn: 'noon test StoreKit signing',
    issuer: intermediate,
    ca: false,
    markers: [APPLE_LEAF_MARKER_OID],
    ...opts.leaf,
  });
  return { root, intermediate, leaf };
}

// ---- signed transactions -----------------------------------------------------------------------

export const TEST_BUNDLE_ID = 'com.example.noon';

let txSeq = 0;
/** A fresh numeric transaction id (as Apple's are), unique across test runs. */
export function newTransactionId(): string {
  return `${Date.now()}${String(process.pid % 1000).padStart(3, '0')}${String(txSeq++ % 10_000).padStart(4, '0')}`;
}

/** A StoreKit 2 JWSTransactionDecodedPayload for a consumable, as Apple sends it (overridable). */
export function transaction(over: Record<string, unknown> = {}): Record<string, unknown> {
  const id = newTransactionId();
  const now = Date.now();
  return {
    transactionId: id,
    originalTransactionId: id,
    bundleId: TEST_BUNDLE_ID,
    productId: 'gems_100',
    purchaseDate: now - 1000,
    originalPurchaseDate: now - 1000,
    quantity: 1,
    type: 'Consumable',
    inAppOwnershipType: 'PURCHASED',
    signedDate: now,
    environment: 'Production',
    transactionReason: 'PURCHASE',
    storefront: 'USA',
    storefrontId: '143441',
    price: 990,
    currency: 'USD',
    ...over,
  };
}

const b64url = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

/**
 * The compact JWS of `payload`, signed ES256 with `signWith` (default: the leaf's key) and carrying
 * `x5c` (default: leaf, intermediate, root).
 */
export function signTransaction(
  chain: AppStoreChain,
  payload: Record<string, unknown>,
  opts: { signWith?: KeyObject; x5c?: Buffer[]; alg?: string } = {},
): string {
  const x5c = (opts.x5c ?? [chain.leaf.der, chain.intermediate.der, chain.root.der]).map((d) => d.toString('base64'));
  const input = `${b64url({ alg: opts.alg ?? 'ES256', x5c })}.${b64url(payload)}`;
  const sig = sign('sha256', Buffer.from(input), { key: opts.signWith ?? chain.leaf.key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}

/** A key nobody certified (a forger's). */
export function strangerKey(): KeyObject {
  return newKeyPair().privateKey;
}
