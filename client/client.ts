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
 *
 * Over TLS (`transport: 'tls'` or `'wss'`, an https:// BrokerList, or `connect({ tls })`), the
 * certificates are checked against `ca` when given, else the system store:
 *
 *   const c = await NoonClient.viaBrokerList('https://lobby:7781/brokers', { transport: 'tls', ca: readFileSync('ca.pem') });
 */
import { ClientCore, type I64Option, type NoonClientOptions, type Target } from './core';
import type { TransportKind } from './brokerlist';
import type { I64Mode } from './i64';
import { connectTransport, fetchWithCa } from './transports';

export type { NoonClientOptions } from './core';

/** One broker to connect to: its endpoint of one kind (tls: host:port; wss: wss://host:port). */
export type BrokerTarget = { tcp: string } | { ws: string } | { tls: string } | { wss: string };

function targetOf(t: BrokerTarget): { transport: TransportKind; endpoint: string } {
  if ('tcp' in t) return { transport: 'tcp', endpoint: t.tcp };
  if ('tls' in t) return { transport: 'tls', endpoint: t.tls };
  if ('wss' in t) return { transport: 'wss', endpoint: t.wss };
  return { transport: 'ws', endpoint: t.ws };
}

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
  static connect(target: BrokerTarget, opts?: NoonClientOptions & I64Option<'int64'>): Promise<NoonClient>;
  static connect(target: BrokerTarget, opts: NoonClientOptions & { i64: 'bigint' }): Promise<NoonClient<'bigint'>>;
  static async connect(
    target: BrokerTarget,
    opts: NoonClientOptions & I64Option<I64Mode> = {},
  ): Promise<NoonClient<I64Mode>> {
    const { transport, endpoint } = targetOf(target);
    return new NoonClient({ kind: 'fixed', endpoint }, { ...opts, transport }).start();
  }

  private constructor(target: Target, opts: NoonClientOptions & I64Option<M>) {
    super(target, opts, connectTransport, 'int64' as M, opts.ca !== undefined ? fetchWithCa(opts.ca) : undefined);
  }
}
