/**
 * Pushes (ONEWAY "Events:<method>" messages) decoded with the generated Events.Processor, and a
 * small typed emitter for them and for the SDK's own connection events. Push argument lists are
 * derived from the generated Events.IHandler, so a changed IDL is a compile error here, not drift.
 */
import * as thrift from 'thrift';
import { Events, type Session } from '../shared/protocol';
import type { DecodeCaps } from '../shared/thrift/capped';
import { demultiplexed, openMessage } from '../shared/thrift/messages';

export type PushName = keyof Events.IHandler;
export const PUSH_NAMES: readonly PushName[] = [
  'duelUpdated',
  'matchFound',
  'chatMessage',
  'walletChanged',
  'stateLost',
  'roomClosed',
  'kicked',
];

export interface DisconnectInfo {
  /** why the connection ended, e.g. "closed by the broker" or "socket error: ECONNRESET" */
  reason: string;
  /** the broker endpoint that was lost */
  endpoint: string;
  /** false after close(), a `kicked` push, reconnect: false, or when reconnecting gave up */
  willReconnect: boolean;
}

export interface ReconnectInfo {
  /** the broker endpoint now in use */
  endpoint: string;
  /** the endpoint that was lost */
  previous: string;
  /** reconnect attempts it took (1 = the first one worked) */
  attempts: number;
  /** the session restored by Sso:resume; undefined when there was none or it was refused */
  session?: Session;
  /** why Sso:resume was refused (expired or revoked session): the app must log in again */
  resumeError?: Error;
}

/** Every event of NoonClient.on(): pushes with their IDL arguments, and connection events. */
export type ClientEvents = { [K in PushName]: Parameters<Events.IHandler[K]> } & {
  reconnected: [info: ReconnectInfo];
  disconnected: [info: DisconnectInfo];
};

type Listener<A extends unknown[]> = (...args: A) => void;

export class TypedEmitter<E extends { [K in keyof E]: unknown[] }> {
  private readonly listeners = new Map<keyof E, Set<Listener<never[]>>>();

  constructor(private readonly onListenerError: (event: string, err: unknown) => void) {}

  on<K extends keyof E>(event: K, fn: Listener<E[K]>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn as unknown as Listener<never[]>);
    return () => this.off(event, fn);
  }

  off<K extends keyof E>(event: K, fn: Listener<E[K]>): void {
    this.listeners.get(event)?.delete(fn as unknown as Listener<never[]>);
  }

  once<K extends keyof E>(event: K, fn: Listener<E[K]>): () => void {
    const off = this.on(event, ((...args: E[K]) => {
      off();
      fn(...args);
    }) as Listener<E[K]>);
    return off;
  }

  /** Calls every listener; one that throws is reported and does not stop the others or the SDK. */
  emit<K extends keyof E>(event: K, ...args: E[K]): void {
    for (const fn of [...(this.listeners.get(event) ?? [])]) {
      try {
        (fn as unknown as Listener<E[K]>)(...args);
      } catch (err) {
        this.onListenerError(String(event), err);
      }
    }
  }
}

/** An output protocol that drops what it is given: the generated processor "replies" to oneways. */
function discardingOutput(): thrift.TProtocol {
  return new thrift.TCompactProtocol(new thrift.TFramedTransport(undefined, () => undefined));
}

/**
 * Decodes one push and hands it to `handler` (synchronously). Returns an error for a push that
 * does not decode or names an unknown method, so the caller can log it; it is never thrown.
 */
export function dispatchPush(bytes: Buffer, caps: DecodeCaps, handler: Events.IHandler): Error | undefined {
  let name = '';
  let called = false;
  // The processor swallows decode errors into a reply we discard; a handler that was not called
  // synchronously is how we learn the push did not decode.
  const wrapped = Object.fromEntries(
    PUSH_NAMES.map((n) => [
      n,
      (...args: unknown[]): void => {
        called = true;
        (handler[n] as (...a: unknown[]) => void)(...args);
      },
    ]),
  ) as unknown as Events.IHandler;
  try {
    const input = demultiplexed(openMessage(bytes, caps).input);
    const read = input.readMessageBegin.bind(input);
    input.readMessageBegin = (): thrift.TMessage => {
      const m = read();
      name = m.fname;
      return m;
    };
    new Events.Processor(wrapped).process(input, discardingOutput());
  } catch (err) {
    return err as Error;
  }
  if (called) return undefined;
  if (!(PUSH_NAMES as readonly string[]).includes(name)) return new Error(`unknown push ${JSON.stringify(name)}`);
  return new Error(`push ${name} did not decode`);
}
