/**
 * Which internal-plane keys a process runs with: its role's keypair and the public keyring, from
 * the key options (docs/security.md). `noon start` with no key option uses `<data dir>/keys`
 * (cli/start.ts creates the missing keys there under a lock), so roles started on one host with a
 * shared data directory agree on one keyring with no extra step.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, type Config } from './config';
import type { CurveKeys } from './curve';
import { Keyring, KEYRING_FILE, KeyFileError, readKeyPair, secretFileOf } from './keyring';

/** True when some key option is set (then nothing is generated: the operator distributes the keys). */
export function hasKeyOptions(cfg: Config): boolean {
  return cfg.internalKeys !== undefined || cfg.internalKey !== undefined || cfg.internalKeyring !== undefined;
}

/** The default key directory of `noon start`. */
export const defaultKeyDir = (cfg: Config): string => join(cfg.dataDir, 'keys');

/**
 * The keys of `role` from the key options; undefined with none set (plaintext: an in-process
 * cluster, tests; `noon start` sets the default directory first). Throws ConfigError naming the
 * option when a file is missing, unreadable or of another role.
 */
export function internalKeysFor(cfg: Config, role: string): CurveKeys | undefined {
  if (cfg.internalPlaintext || !hasKeyOptions(cfg)) return undefined;
  const dir = cfg.internalKeys;
  const keyFile = cfg.internalKey ?? (dir !== undefined ? secretFileOf(dir, role) : undefined);
  const ringFile = cfg.internalKeyring ?? (dir !== undefined ? join(dir, KEYRING_FILE) : undefined);
  if (keyFile === undefined)
    throw new ConfigError('--internal-key / NOON_INTERNAL_KEY', 'no secret key file (or --internal-keys directory)');
  if (ringFile === undefined)
    throw new ConfigError(
      '--internal-keyring / NOON_INTERNAL_KEYRING',
      'no keyring file (or --internal-keys directory)',
    );
  const keyOption =
    cfg.internalKey !== undefined ? '--internal-key / NOON_INTERNAL_KEY' : '--internal-keys / NOON_INTERNAL_KEYS';
  const ringOption =
    cfg.internalKeyring !== undefined
      ? '--internal-keyring / NOON_INTERNAL_KEYRING'
      : '--internal-keys / NOON_INTERNAL_KEYS';
  if (!existsSync(keyFile)) throw new ConfigError(keyOption, `${keyFile} does not exist (noon keys generate makes it)`);
  try {
    const pair = readKeyPair(keyFile);
    if (pair.role !== role)
      throw new ConfigError(keyOption, `${keyFile} is a key of role ${pair.role}, not of ${role}`);
    const keyring = new Keyring(ringFile);
    const listed = keyring.roleOf(pair.publicKey);
    if (listed !== role)
      throw new ConfigError(
        ringOption,
        listed === undefined
          ? `${ringFile} does not list the ${role} key of ${keyFile}`
          : `${ringFile} lists the key of ${keyFile} for role ${listed}`,
      );
    return { ...pair, keyring };
  } catch (err) {
    if (err instanceof KeyFileError) throw new ConfigError(err.file === keyFile ? keyOption : ringOption, err.message);
    throw err;
  }
}
