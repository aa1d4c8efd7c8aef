/**
 * The generated Sso client, extended to remember the Session that register/login/resume/loginDevice/upgradeDevice return
 * (and forget it on logout), so the SDK can resume it after a reconnect, and to state this SDK's
 * client protocol version (CLIENT_PROTOCOL of the IDL it was built from) on every call that opens
 * a session: a broker whose cluster requires a newer one answers UPGRADE_REQUIRED. Each override
 * calls super synchronously, so the call is written inside the caller's withPriority/withTimeout.
 */
import { CLIENT_PROTOCOL, Sso, type Session } from '../shared/protocol';
import type { ClientClass } from '../shared/thrift/channel';

/** `onSession` may return a promise (the SDK subscribes to the session's pushes): the call resolves after it. */
export function sessionTrackingSso(
  onSession: (s: Session | undefined) => void | Promise<void>,
): ClientClass<Sso.Client> {
  return class SessionTrackingSso extends Sso.Client {
    override register(username: string, password: string, clientProtocol = CLIENT_PROTOCOL): Promise<Session> {
      return super.register(username, password, clientProtocol).then(remember);
    }
    override login(username: string, password: string, clientProtocol = CLIENT_PROTOCOL): Promise<Session> {
      return super.login(username, password, clientProtocol).then(remember);
    }
    override resume(token: string, clientProtocol = CLIENT_PROTOCOL): Promise<Session> {
      return super.resume(token, clientProtocol).then(remember);
    }
    override loginDevice(deviceId: string, clientProtocol = CLIENT_PROTOCOL): Promise<Session> {
      return super.loginDevice(deviceId, clientProtocol).then(remember);
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
