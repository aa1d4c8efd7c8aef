/**
 * `noon keys`: the internal plane's keys (docs/security.md). `generate` writes a CURVE keypair per
 * role (secret files mode 0600) and the public keyring; `rotate <role>` starts a rotation (a second
 * key for the role, both accepted); `retire <role>` ends it (only the new key stays); `list`
 * prints the keyring. Nothing here ever prints a secret key.
 */
import { join } from 'node:path';
import { INFRA_KEY_ROLES } from '../shared/curve';
import { ensureKeys, KEYRING_FILE, readKeyringFile, retireKeys, rotateKey, secretFileOf } from '../shared/keyring';
import { printJson } from './lifecycle';

/** The roles `generate` makes keys for by default: the infrastructure and the project's services. */
export function defaultKeyRoles(serviceRoles: readonly string[]): string[] {
  return [...new Set([...INFRA_KEY_ROLES, ...serviceRoles])];
}

export function keysGenerate(dir: string, roles: readonly string[], json: boolean): void {
  ensureKeys(dir, roles);
  keysList(dir, json);
}

export function keysRotate(dir: string, role: string, json: boolean): void {
  const pair = rotateKey(dir, role);
  if (json) printJson({ role, publicKey: pair.publicKey, secretFile: secretFileOf(dir, role) });
  else
    process.stdout.write(
      `${role}: new key ${pair.publicKey} in ${secretFileOf(dir, role)}; the keyring accepts both keys.\n` +
        `Copy ${join(dir, KEYRING_FILE)} to every host, restart the ${role} instances one by one with the new secret,\n` +
        `then run: noon keys retire ${role} --dir ${dir}  (and copy the keyring again)\n`,
    );
}

export function keysRetire(dir: string, role: string, json: boolean): void {
  const removed = retireKeys(dir, role);
  if (json) printJson({ role, removed });
  else process.stdout.write(`${role}: ${removed} old key(s) removed from ${join(dir, KEYRING_FILE)}\n`);
}

export function keysList(dir: string, json: boolean): void {
  const ring = readKeyringFile(join(dir, KEYRING_FILE));
  if (json) printJson(ring);
  else for (const e of ring) process.stdout.write(`${e.role.padEnd(14)} ${e.publicKey}\n`);
}
