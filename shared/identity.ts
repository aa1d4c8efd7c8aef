/** What names a process in the cluster: the release it runs and its instance id. */
import { randomBytes } from 'node:crypto';

/** The release of noon this process runs; registered in Yellow and answered by BrokerList. */
export const NOON_VERSION = '0.1.0';

/** `player-4242-9f3a1c0e`: the role, the pid (for operators) and 32 random bits (pids repeat). */
export function newInstanceId(role: string): string {
  return `${role}-${process.pid}-${randomBytes(4).toString('hex')}`;
}
