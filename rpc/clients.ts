/**
 * Typed clients of every service for one call context: `await ctx.services.player.grant(req)`.
 * Built on the generated Client classes over a ThriftChannel whose bytes go through ServiceCaller.
 */
import { Channels, Chat, Duel, Leaderboard, Player, Sso } from '../shared/protocol';
import { NoonError } from '../shared/errors';
import { ThriftChannel, type ClientClass, type OutgoingCall } from '../shared/thrift/channel';
import type { DecodeCaps } from '../shared/thrift/capped';
import type { Directive } from '../shared/wire/frames';
import type { CallMeta, ServiceCaller } from './caller';

export type { ClientClass } from '../shared/thrift/channel';

export interface ServiceClients {
  /**
   * The typed client of any service, built-in or a studio's own, from the code generated for its
   * IDL: `ctx.services.of(Greeter.Client, 'Greeter').greet(...)`.
   */
  of<C extends object>(Ctor: ClientClass<C>, thriftService: string): C;
  readonly sso: Sso.Client;
  readonly player: Player.Client;
  readonly duel: Duel.Client;
  readonly chat: Chat.Client;
  readonly leaderboard: Leaderboard.Client;
  /** services publish with `channels.publishAsService` (docs/channels.md) */
  readonly channels: Channels.Client;
}

/** Replies from our own services are trusted more than client input, but still bounded. */
const REPLY_CAPS: DecodeCaps = { maxString: 1 << 20, maxContainer: 100_000, maxDepth: 32 };

/**
 * `onDirectives` receives the directives of every nested reply: what an inner service asks of the
 * broker (bind this session to me, subscribe to my room) rides on the outer reply.
 */
export function serviceClients(
  caller: ServiceCaller,
  meta: () => CallMeta,
  onDirectives?: (ds: Directive[]) => void,
): ServiceClients {
  const channel: ThriftChannel = new ThriftChannel(
    (call: OutgoingCall) => {
      caller
        .call(call.service, call.header.name.slice(call.service.length + 1), call.framed.subarray(4), meta())
        .then((reply) => {
          if (reply.directives.length > 0) onDirectives?.(reply.directives);
          if (reply.error) channel.fail(call.header.seqid, reply.error);
          else channel.receive(reply.payload);
        })
        .catch((err: unknown) =>
          channel.fail(call.header.seqid, err instanceof Error ? err : new NoonError('INTERNAL', String(err))),
        );
    },
    { protocol: 'compact', caps: REPLY_CAPS },
  );
  return {
    of: (Ctor, thriftService) => channel.client(Ctor, thriftService),
    get sso() {
      return channel.client(Sso.Client, 'Sso');
    },
    get player() {
      return channel.client(Player.Client, 'Player');
    },
    get duel() {
      return channel.client(Duel.Client, 'Duel');
    },
    get chat() {
      return channel.client(Chat.Client, 'Chat');
    },
    get leaderboard() {
      return channel.client(Leaderboard.Client, 'Leaderboard');
    },
    get channels() {
      return channel.client(Channels.Client, 'Channels');
    },
  };
}
