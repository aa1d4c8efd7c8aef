/**
 * Server-initiated messages: ONEWAY messages of the IDL service Events, seqid 0, named
 * "Events:<method>". The generator treats oneway like a call, so pushes are written here from
 * the generated argument structs (a wrong argument is still a compile error).
 */
import * as thrift from 'thrift';
import {
  Events,
  type ChannelMessage,
  type ChatMessage,
  type DuelState,
  type MatchTicket,
  type StateLostKind,
  type Wallet,
} from '../protocol';
import { buildMessage } from './messages';
import type { ThriftProtocol } from './header';

interface Writable {
  write(out: thrift.TProtocol): void;
}

/**
 * The ONEWAY message `name` (`Service:method`) with seqid 0 whose arguments are the generated
 * `…Args` struct of a oneway method: how every push is written, noon's `Events:*` and a studio's own.
 */
export function onewayCall(name: string, args: Writable, protocol: ThriftProtocol = 'compact'): Buffer {
  return buildMessage(protocol, (out) => {
    out.writeMessageBegin(name, thrift.Thrift.MessageType.ONEWAY, 0);
    args.write(out);
    out.writeMessageEnd();
  });
}

export function onewayMessage(method: string, args: Writable, protocol: ThriftProtocol = 'compact'): Buffer {
  return onewayCall(`Events:${method}`, args, protocol);
}

/** One builder per Events method; each returns the message bytes in compact protocol. */
export const events = {
  duelUpdated: (state: DuelState) => onewayMessage('duelUpdated', new Events.DuelUpdatedArgs({ state })),
  matchFound: (ticket: MatchTicket) => onewayMessage('matchFound', new Events.MatchFoundArgs({ ticket })),
  chatMessage: (message: ChatMessage) => onewayMessage('chatMessage', new Events.ChatMessageArgs({ message })),
  walletChanged: (wallet: Wallet) => onewayMessage('walletChanged', new Events.WalletChangedArgs({ wallet })),
  stateLost: (serviceName: string, kind: StateLostKind, detail: string) =>
    onewayMessage('stateLost', new Events.StateLostArgs({ serviceName, kind, detail })),
  roomClosed: (roomId: string, reason: string) =>
    onewayMessage('roomClosed', new Events.RoomClosedArgs({ roomId, reason })),
  kicked: (reason: string) => onewayMessage('kicked', new Events.KickedArgs({ reason })),
  brokerDraining: (reason: string) => onewayMessage('brokerDraining', new Events.BrokerDrainingArgs({ reason })),
  channelMessage: (message: ChannelMessage) =>
    onewayMessage('channelMessage', new Events.ChannelMessageArgs({ message })),
  channelGap: (channel: string, fromSeq: number, toSeq: number) =>
    onewayMessage('channelGap', new Events.ChannelGapArgs({ channel, fromSeq, toSeq })),
  channelClosed: (channel: string, reason: string) =>
    onewayMessage('channelClosed', new Events.ChannelClosedArgs({ channel, reason })),
};
