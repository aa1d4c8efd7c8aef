/**
 * Internal-plane keys on disk. A key directory holds one secret file per role (`<role>.key`, mode
 * 0600: the role's CURVE keypair) and the public keyring (`keyring.json`: which public key belongs
 * to which role). During a rotation a role has two keys in the keyring; the previous secret is
 * kept as `<role>.previous.key` until the rotation is finished (`retire`).
 *
 * The keyring is re-read when its file changes, so a running process accepts a key added by a
 * rotation without a restart.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as zmq from 'zeromq';

export interface RoleKeyPair {
  role: string;
  /** Z85, 40 characters */
  publicKey: string;
  secretKey: string;
}

export interface KeyringEntry {
  role: string;
  publicKey: string;
  /**
   * Thrift services this key may register besides the one named after its role
   * (shared/service-roles.ts); for a studio service whose name does not follow the rule.
   */
  services?: string[];
}

const Z85_KEY = /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/;
const ROLE = /^[a-z][a-z0-9_-]{0,63}$/;
const THRIFT_SERVICE = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

export class KeyFileError extends Error {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'KeyFileError';
  }
}

export const KEYRING_FILE = 'keyring.json';
export const secretFileOf = (dir: string, role: string): string => join(dir, `${role}.key`);
const previousFileOf = (dir: string, role: string): string => join(dir, `${role}.previous.key`);

export function newKeyPair(role: string): RoleKeyPair {
  if (!ROLE.test(role)) throw new Error(`${JSON.stringify(role)} is not a role name (a-z, 0-9, _ or -)`);
  const { publicKey, secretKey } = zmq.curveKeyPair();
  return { role, publicKey, secretKey };
}

/** Reads a role's secret key file; throws KeyFileError naming the file and what is wrong. */
export function readKeyPair(file: string): RoleKeyPair {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new KeyFileError(file, `cannot read a key file (${(err as Error).message})`);
  }
  const o = v as Partial<RoleKeyPair>;
  if (typeof o.role !== 'string' || !ROLE.test(o.role)) throw new KeyFileError(file, 'no valid "role"');
  for (const k of ['publicKey', 'secretKey'] as const)
    if (typeof o[k] !== 'string' || !Z85_KEY.test(o[k]))
      throw new KeyFileError(file, `"${k}" is not 40 Z85 characters`);
  return { role: o.role, publicKey: o.publicKey as string, secretKey: o.secretKey as string };
}

/** Writes a secret key file readable by its owner only (written aside, then renamed into place). */
export function writeKeyPair(file: string, pair: RoleKeyPair): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(pair)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

export function readKeyringFile(file: string): KeyringEntry[] {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new KeyFileError(file, `cannot read the keyring (${(err as Error).message})`);
  }
  const keys = (v as { keys?: unknown }).keys;
  if (!Array.isArray(keys)) throw new KeyFileError(file, 'no "keys" array');
  return keys.map((e: Partial<KeyringEntry>, i) => {
    if (typeof e?.role !== 'string' || !ROLE.test(e.role))
      throw new KeyFileError(file, `keys[${i}].role is not a role`);
    if (typeof e.publicKey !== 'string' || !Z85_KEY.test(e.publicKey))
      throw new KeyFileError(file, `keys[${i}].publicKey is not 40 Z85 characters`);
    if (e.services === undefined) return { role: e.role, publicKey: e.publicKey };
    if (!Array.isArray(e.services) || !e.services.every((s) => typeof s === 'string' && THRIFT_SERVICE.test(s)))
      throw new KeyFileError(file, `keys[${i}].services is not a list of Thrift service names`);
    return { role: e.role, publicKey: e.publicKey, services: [...e.services] };
  });
}

export function writeKeyringFile(file: string, entries: KeyringEntry[]): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ keys: entries }, null, 2)}\n`, { mode: 0o644 });
  renameSync(tmp, file);
}

/** The public keyring, re-read whenever its file changes. */
export class Keyring {
  private entries: KeyringEntry[] = [];
  private byKey = new Map<string, string>();
  private stamp = '';

  constructor(readonly file: string) {
    this.refresh();
  }

  /** The role a public key belongs to, or undefined for a key not in the keyring. */
  roleOf(publicKey: string): string | undefined {
    this.refresh();
    return this.byKey.get(publicKey);
  }

  /** The Thrift services the keyring grants a role besides its own (every entry of the role's). */
  servicesOf(role: string): string[] {
    this.refresh();
    return [...new Set(this.entries.flatMap((e) => (e.role === role ? (e.services ?? []) : [])))];
  }

  /** A role's public keys, oldest first. */
  keysOf(role: string): string[] {
    this.refresh();
    return this.entries.filter((e) => e.role === role).map((e) => e.publicKey);
  }

  private refresh(): void {
    const st = statSync(this.file, { throwIfNoEntry: false });
    if (!st) throw new KeyFileError(this.file, 'the keyring file does not exist');
    const stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
    if (stamp === this.stamp) return;
    this.entries = readKeyringFile(this.file);
    this.byKey = new Map(this.entries.map((e) => [e.publicKey, e.role]));
    this.stamp = stamp;
  }
}

/** Runs `fn` holding the directory's lock (a directory made atomically), so concurrent starts agree. */
export function withKeyDirLock<T>(dir: string, fn: () => T): T {
  const lock = join(dir, '.lock');
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      // A holder that died mid-way leaves the lock behind; nothing holds it for seconds.
      if (age > 10_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`${lock}: could not take the key directory lock in 30 s`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * Makes sure `dir` holds a key for each role (generating the missing ones) and the keyring lists
 * them. Safe when many processes start at once on the same directory.
 */
export function ensureKeys(dir: string, roles: readonly string[]): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  withKeyDirLock(dir, () => {
    const ringFile = join(dir, KEYRING_FILE);
    const ring = existsSync(ringFile) ? readKeyringFile(ringFile) : [];
    let changed = !existsSync(ringFile);
    for (const role of roles) {
      const file = secretFileOf(dir, role);
      if (existsSync(file)) continue;
      const pair = newKeyPair(role);
      writeKeyPair(file, pair);
      ring.push({ role, publicKey: pair.publicKey });
      changed = true;
    }
    if (changed) writeKeyringFile(ringFile, ring);
  });
}

/**
 * Starts a rotation: the role's current secret becomes `<role>.previous.key`, a new one is
 * written, and the keyring lists both (processes still on the old key keep being accepted).
 */
export function rotateKey(dir: string, role: string): RoleKeyPair {
  return withKeyDirLock(dir, () => {
    const file = secretFileOf(dir, role);
    if (!existsSync(file)) throw new KeyFileError(file, `no key for role ${role} to rotate`);
    if (existsSync(previousFileOf(dir, role)))
      throw new KeyFileError(previousFileOf(dir, role), `a rotation of ${role} is under way; retire it first`);
    const ringFile = join(dir, KEYRING_FILE);
    const ring = readKeyringFile(ringFile);
    const pair = newKeyPair(role);
    renameSync(file, previousFileOf(dir, role));
    writeKeyPair(file, pair);
    // the new key may register what the old one could
    const services = [...new Set(ring.flatMap((e) => (e.role === role ? (e.services ?? []) : [])))];
    writeKeyringFile(ringFile, [
      ...ring,
      { role, publicKey: pair.publicKey, ...(services.length ? { services } : {}) },
    ]);
    return pair;
  });
}

/** Ends a rotation: only the role's current key stays in the keyring; the previous secret is deleted. */
export function retireKeys(dir: string, role: string): number {
  return withKeyDirLock(dir, () => {
    const current = readKeyPair(secretFileOf(dir, role));
    const ringFile = join(dir, KEYRING_FILE);
    const ring = readKeyringFile(ringFile);
    const kept = ring.filter((e) => e.role !== role || e.publicKey === current.publicKey);
    writeKeyringFile(ringFile, kept);
    rmSync(previousFileOf(dir, role), { force: true });
    return ring.length - kept.length;
  });
}
