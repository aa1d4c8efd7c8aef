/**
 * NoonClient, the Node SDK: one connection to a broker over framed TCP or WebSocket with typed
 * calls, pushes, and session resume (the shared logic is core.ts; this file picks Node's
 * transports).
 *
 *   const c = await NoonClient.viaBrokerList('http://127.0.0.1:7780/brokers');
 *   await c.sso.login('ann', 'pw-ann-123');
 *   c.on('walletChanged', (w) => ...);
 *   const wallet = await c.player.getWallet();
 *
 * i64 values come as node-int64 objects by default (what the loadtest and the CLI read);
 * `{ i64: 'bigint' }` makes every i64 of replies and pushes a bigint (i64.ts).
 */
import { ClientCore, type I64Option, type NoonClientOptions, type Target } from './core';
import type { TransportKind } from './brokerlist';
import type { I64Mode } from './i64';
import { connectTransport } from './transports';

export type { NoonClientOptions } from './core';

export class NoonClient<M extends I64Mode = 'int64'> extends ClientCore<M> {
  /** Looks up the BrokerList and connects to the lowest-load broker that answers. */
  static viaBrokerList(url: string, opts?: NoonClientOptions & I64Option<'int64'>): Promise<NoonClient>;
  static viaBrokerList(url: string, opts: NoonClientOptions & { i64: 'bigint' }): Promise<NoonClient<'bigint'>>;
  static async viaBrokerList(
    url: string,
    opts: NoonClientOptions & I64Option<I64Mode> = {},
  ): Promise<NoonClient<I64Mode>> {
    return new NoonClient({ kind: 'brokerlist', url }, opts).start();
  }

  /** Connects to one broker; reconnects go to the same endpoint. */
  static connect(
    target: { tcp: string } | { ws: string },
    opts?: NoonClientOptions & I64Option<'int64'>,
  ): Promise<NoonClient>;
  static connect(
    target: { tcp: string } | { ws: string },
    opts: NoonClientOptions & { i64: 'bigint' },
  ): Promise<NoonClient<'bigint'>>;
  static async connect(
    target: { tcp: string } | { ws: string },
    opts: NoonClientOptions & I64Option<I64Mode> = {},
  ): Promise<NoonClient<I64Mode>> {
    const transport: TransportKind = 'tcp' in target ? 'tcp' : 'ws';
    const endpoint = 'tcp' in target ? target.tcp : target.ws;
    return new NoonClient({ kind: 'fixed', endpoint }, { ...opts, transport }).start();
  }

  private constructor(target: Target, opts: NoonClientOptions & I64Option<M>) {
    super(target, opts, connectTransport, 'int64' as M);
  }
}
