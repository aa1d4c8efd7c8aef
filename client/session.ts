/**
 * The generated Sso client, extended to remember the Session that register/login/resume/loginDevice/upgradeDevice return
 * (and forget it on logout), so the SDK can resume it after a reconnect. Each override calls
 * super synchronously, so the call is written inside the caller's withPriority/withTimeout.
 */
import { Sso, type Session } from '../shared/protocol';
import type { ClientClass } from '../shared/thrift/channel';

/** `onSession` may return a promise (the SDK subscribes to the session's pushes): the call resolves after it. */
export function sessionTrackingSso(
  onSession: (s: Session | undefined) => void | Promise<void>,
): ClientClass<Sso.Client> {
  return class SessionTrackingSso extends Sso.Client {
    override register(username: string, password: string): Promise<Session> {
      return super.register(username, password).then(remember);
    }
    override login(username: string, password: string): Promise<Session> {
      return super.login(username, password).then(remember);
    }
    override resume(token: string): Promise<Session> {
      return super.resume(token).then(remember);
    }
    override loginDevice(deviceId: string): Promise<Session> {
      return super.loginDevice(deviceId).then(remember);
    }
    override upgradeDevice(username: string, password: string): Promise<Session> {
      // the same session under a new token: the one to resume with from now on
      return super.upgradeDevice(username, password).then(remember);
    }
    override logout(): Promise<void> {
      return super.logout().then(async () => {
        await onSession(undefined);
      });
    }
  };
  async function remember(s: Session): Promise<Session> {
    await onSession(s);
    return s;
  }
}
