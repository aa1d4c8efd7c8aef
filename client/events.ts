/**
 * Pushes (ONEWAY "Service:method" messages) routed by service name to generated Processors —
 * noon's Events.Processor for "Events:*", a studio's own for its services (NoonClient.onPushes) —
 * and a small typed emitter for the Events pushes and the SDK's own connection events. Push
 * argument lists are derived from the generated Events.IHandler, so a changed IDL is a compile
 * error here, not drift.
 */
import * as thrift from 'thrift';
import type { Events, Session } from '../shared/protocol';
import type { DecodeCaps } from '../shared/thrift/capped';
import { demultiplexed, openMessage } from '../shared/thrift/messages';

/** The pushes of Events (its poll and subscribe are calls the SDK makes itself). */
export type PushName = Exclude<keyof Events.IHandler, 'poll' | 'subscribe'>;
export const PUSH_NAMES: readonly PushName[] = [
  'duelUpdated',
  'matchFound',
  'chatMessage',
  'walletChanged',
  'stateLost',
  'roomClosed',
  'kicked',
  'brokerDraining',
  'pushesMissed',
  'channelMessage',
  'channelGap',
  'channelClosed',
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

/** What the generated `Processor` of a Thrift service looks like to the SDK. */
export interface PushProcessor {
  process(input: thrift.TProtocol, output: thrift.TProtocol): void;
}
/**
 * A generated `Processor` class (`Events.Processor`, or a studio's `MyGame.Processor`). Typed
 * loosely, so a Processor from another copy of the generated code or of `thrift` fits; add()
 * checks that it has `process`.
 */
export type ProcessorClass<H> = new (handler: H) => unknown;

interface Route {
  processor: PushProcessor;
  /** set by the handler proxy: whether the processor reached a handler method this time */
  called: boolean;
}

/**
 * Pushes by service: a ONEWAY `Service:method` is decoded by the generated Processor of every
 * route added for `Service`, which calls the handler's `method` with the IDL arguments
 * (synchronously). A handler may have only some methods; one that throws is reported, not thrown.
 */
export class PushRouter {
  private readonly routes = new Map<string, Set<Route>>();

  constructor(
    private readonly caps: DecodeCaps,
    private readonly onHandlerError: (push: string, err: unknown) => void,
  ) {}

  /** Routes `service`'s pushes to `handler`, each argument list passed through `convert`; returns a remover. */
  add<H extends object>(
    service: string,
    Processor: ProcessorClass<H>,
    handler: object,
    convert: (args: unknown[]) => unknown[] = (a) => a,
  ): () => void {
    const methods = handler as Record<string, unknown>;
    const route: Route = { processor: undefined as unknown as PushProcessor, called: false };
    const proxy = new Proxy(
      {},
      {
        get: (_t, prop) =>
          typeof prop !== 'string'
            ? undefined
            : (...args: unknown[]): void => {
                route.called = true;
                const fn = methods[prop];
                if (typeof fn !== 'function') return;
                try {
                  (fn as (...a: unknown[]) => unknown).apply(handler, convert(args));
                } catch (err) {
                  this.onHandlerError(`${service}:${prop}`, err);
                }
              },
      },
    );
    const processor = new Processor(proxy as H) as Partial<PushProcessor> | null;
    if (typeof processor?.process !== 'function')
      throw new TypeError(`the Processor given for ${service} pushes has no process(input, output) method`);
    route.processor = processor as PushProcessor;
    let set = this.routes.get(service);
    if (!set) this.routes.set(service, (set = new Set()));
    set.add(route);
    return () => {
      set.delete(route);
    };
  }

  /**
   * Decodes one push (a whole message named `name`) for every route of its service. Returns an
   * error for a push nobody takes, that names an unknown method, or that does not decode, so the
   * caller can log it; it is never thrown (a client ignores pushes it does not know).
   */
  dispatch(bytes: Buffer, name: string): Error | undefined {
    const colon = name.indexOf(':');
    const service = colon > 0 ? name.slice(0, colon) : '';
    const method = name.slice(colon + 1);
    const routes = this.routes.get(service);
    if (!routes || routes.size === 0) return new Error(`no handler for push ${JSON.stringify(name)}`);
    let problem: Error | undefined;
    for (const route of [...routes]) {
      route.called = false;
      try {
        // The processor swallows decode errors into a reply we discard; a handler that was not
        // reached synchronously is how we learn the push did not decode.
        // A fresh sink each time: the stock protocol keeps the first non-zero seqid it wrote and
        // warns on the next one, and numbered pushes carry their seq as seqid.
        route.processor.process(demultiplexed(openMessage(bytes, this.caps).input), discardingOutput());
      } catch (err) {
        problem ??= err as Error;
        continue;
      }
      if (route.called) continue;
      const known = typeof (route.processor as unknown as Record<string, unknown>)[`process_${method}`] === 'function';
      problem ??= new Error(known ? `push ${name} did not decode` : `unknown push ${JSON.stringify(name)}`);
    }
    return problem;
  }
}
