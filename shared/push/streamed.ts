/**
 * Which pushes join the session's numbered stream: every ONEWAY message to a session, except one
 * that ends a connection (a `close` directive: `kicked` is about that socket, not the session,
 * and must not be replayed to the connection that replaced it).
 */
import { MessageType, peekHeader } from '../thrift/header';
import type { Directive } from '../wire/frames';

/** The message name when `payload` belongs in the stream, else undefined. */
export function streamedPushName(payload: Buffer, directives: readonly Directive[]): string | undefined {
  if (payload.length === 0 || directives.some((d) => d.type === 'close')) return undefined;
  try {
    const h = peekHeader(payload, 256);
    return h.type === MessageType.ONEWAY ? h.name : undefined;
  } catch {
    return undefined;
  }
}
