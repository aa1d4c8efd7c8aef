/**
 * With CURVE, Yellow admits a registration only for the role of the key that made it: the
 * registration names its key and proves it holds the secret (an HMAC keyed by the X25519 secret
 * shared with Yellow), the keyring says which role that key belongs to, and the registration's
 * role, instance id prefix and service must fit that role: a service role registers only the
 * Thrift services it may serve (shared/service-roles.ts). An instance id already registered with
 * another key cannot be taken over.
 */
import { INFRA_KEY_ROLES, verifyRegistrationProof, type CurveKeys } from '../shared/curve';
import { NoonError } from '../shared/errors';
import { mayServe, servicesOfRole } from '../shared/service-roles';
import type { InstanceRecord, InstanceRegistration } from './types';

/** A registration Yellow will not take from this key: FORBIDDEN, with the reason. */
export class RegistrationRefused extends NoonError {
  constructor(problem: string) {
    super('FORBIDDEN', `registration refused: ${problem}`, false);
    this.name = 'RegistrationRefused';
  }
}

export function admitRegistration(
  yellow: CurveKeys,
  reg: InstanceRegistration,
  prev: InstanceRecord | undefined,
): void {
  const { curveKey, proof, role, instanceId } = reg;
  if (curveKey === undefined || proof === undefined)
    throw new RegistrationRefused('no curveKey and proof (this Yellow requires role keys)');
  const keyRole = yellow.keyring.roleOf(curveKey);
  if (keyRole === undefined) throw new RegistrationRefused(`key ${curveKey.slice(0, 8)}… is not in the keyring`);
  if (!verifyRegistrationProof(yellow, curveKey, instanceId, role, proof))
    throw new RegistrationRefused(`the proof does not match key ${curveKey.slice(0, 8)}…`);
  if (keyRole !== role) throw new RegistrationRefused(`a ${keyRole} key cannot register as role ${role}`);
  if (!instanceId.startsWith(`${role}-`))
    throw new RegistrationRefused(`instance id ${JSON.stringify(instanceId)} does not start with "${role}-"`);
  if (reg.service !== undefined && INFRA_KEY_ROLES.includes(role))
    throw new RegistrationRefused(`a ${role} key cannot register a service (${reg.service.thriftService})`);
  if (reg.service !== undefined) {
    const listed = yellow.keyring.servicesOf(role);
    if (!mayServe(role, reg.service.thriftService, listed))
      throw new RegistrationRefused(
        `a ${role} key cannot register service ${reg.service.thriftService} (it may serve ${servicesOfRole(role, listed).join(', ')}; a keyring entry's "services" grants more)`,
      );
  }
  if (prev?.curveKey !== undefined && prev.curveKey !== curveKey)
    throw new RegistrationRefused(`instance ${instanceId} is registered with another key`);
}
