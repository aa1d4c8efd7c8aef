/**
 * The browser build of the SDK: `npm run build:browser` bundles this file into
 * dist/browser/noon-client.js, one ES module with no Node API in it (scripts/build-browser.js).
 *
 *   import { NoonClient, Player, Currency, BuyRequest, i64, enumName } from './noon-client.js';
 *   const c = await NoonClient.viaBrokerList('https://lobby.example.com/brokers');
 *   await c.sso.register('ann', 'a-long-password');
 *   c.on('walletChanged', (w) => console.log(w.soft));   // 1250n: i64s are bigints here
 *   const wallet = await c.player.getWallet();
 *
 * The same client as the Node SDK (core.ts) over the page's WebSocket only: the BrokerList is
 * read with fetch (the page's origin must be in the cluster's NOON_CORS_ORIGINS) and the brokers'
 * `wss` endpoints are used on an https:// page, their `ws` ones otherwise (`transport` chooses).
 * Certificates are the browser's: no `ca` option. Every i64 of replies and pushes is a bigint
 * unless `{ i64: 'int64' }`.
 */
import * as thrift from 'thrift';
import Int64 from 'node-int64';
import { ClientCore, type I64Option, type NoonClientOptions, type Target } from './core';
import type { I64Mode } from './i64';
import { connectBrowser, defaultBrowserTransport } from './ws-browser';

export type BrowserClientOptions = Omit<NoonClientOptions, 'transport' | 'localAddress' | 'ca'> & {
  /** the brokers' ws or wss endpoints; default wss on an https:// page, else ws */
  transport?: 'ws' | 'wss';
};

export class NoonClient<M extends I64Mode = 'bigint'> extends ClientCore<M> {
  /** Looks up the BrokerList (cross-origin: CORS) and connects to the lowest-load broker's WebSocket. */
  static viaBrokerList(url: string, opts?: BrowserClientOptions & I64Option<'bigint'>): Promise<NoonClient>;
  static viaBrokerList(url: string, opts: BrowserClientOptions & { i64: 'int64' }): Promise<NoonClient<'int64'>>;
  static async viaBrokerList(
    url: string,
    opts: BrowserClientOptions & I64Option<I64Mode> = {},
  ): Promise<NoonClient<I64Mode>> {
    return new NoonClient({ kind: 'brokerlist', url }, opts).start();
  }

  /** Connects to one broker's WebSocket (`ws://host:port` or `wss://…`); reconnects go to the same URL. */
  static connect(
    target: { ws: string } | { wss: string },
    opts?: BrowserClientOptions & I64Option<'bigint'>,
  ): Promise<NoonClient>;
  static connect(
    target: { ws: string } | { wss: string },
    opts: BrowserClientOptions & { i64: 'int64' },
  ): Promise<NoonClient<'int64'>>;
  static async connect(
    target: { ws: string } | { wss: string },
    opts: BrowserClientOptions & I64Option<I64Mode> = {},
  ): Promise<NoonClient<I64Mode>> {
    const url = 'wss' in target ? target.wss : target.ws;
    const transport = /^wss:/i.test(url) ? 'wss' : 'ws';
    return new NoonClient({ kind: 'fixed', endpoint: url }, { ...opts, transport }).start();
  }

  private constructor(target: Target, opts: BrowserClientOptions & I64Option<M>) {
    super(target, { ...opts, transport: opts.transport ?? defaultBrowserTransport() }, connectBrowser, 'bigint' as M);
  }
}

export type { Api, BigintApi, EventsOf, I64Option, NoonClientOptions, Out, PushHandler } from './core';
export {
  bigints,
  enumName,
  i64,
  isInt64,
  toBigInt,
  type Bigints,
  type I64Arg,
  type I64Input,
  type I64Mode,
  type I64Params,
} from './i64';
export {
  fetchBrokers,
  parseBrokerList,
  pickBroker,
  rankBrokers,
  endpointOf,
  type BrokerInfo,
  type FetchBrokersOptions,
} from './brokerlist';
export { ClientError, ClientErrorCodes, errorCode, type ClientErrorCode } from './errors';
export {
  PUSH_NAMES,
  type ClientEvents,
  type DisconnectInfo,
  type ProcessorClass,
  type PushName,
  type ReconnectInfo,
} from './events';
export { connectBrowserWs } from './ws-browser';
export type { Transport, TransportOptions } from './transport';
/** noon's generated IDL code: service namespaces (`Player.Client`, `Events.Processor`), structs, enums. */
export * from '../shared/protocol';
/**
 * The bundle's own `thrift` and `node-int64`, for a studio's generated code (alias its `thrift`
 * and `node-int64` imports to these, so both sides share one copy; docs/clients.md).
 */
export { thrift, Int64 };
