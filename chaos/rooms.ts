/**
 * Chat rooms under the faults: every player is a member of one room (joined before anyone
 * talks) and says messages into it with `Chat:say`, a call the broker never retries (only the
 * reply cache makes its re-send safe). Each member counts every chatMessage its app receives,
 * by text (each say's text is unique in the run), so the check can tell a message delivered
 * once, not at all, or twice; and every say is recorded with its outcome and the seq its reply gave.
 */
import type { NoonClient } from '../client';
import type { Outcome } from './tally';

export interface SayRecord {
  /** the scenario the say started in */
  scenario: number;
  room: string;
  text: string;
  outcome: Outcome;
  code: string;
  /** the seq the reply gave (acknowledged says) */
  seq?: number;
}

/** One member's receipts in its room: text -> how many times the app got it. */
export interface MemberReceipts {
  name: string;
  room: string;
  received: Map<string, number>;
  /** roomClosed events (the room ended for this member) */
  closed: number;
}

/** The room id of room `k` of the run (unique per run: the Redis recent lists outlive one). */
export const roomName = (prefix: string, k: number): string => `${prefix}room-${k}`;

/** Rooms of about four members each: `players` players in this many rooms. */
export const roomCount = (players: number): number => Math.max(1, Math.floor(players / 4));

/** Starts counting what `client`'s app receives in `room` (call before the join). */
export function countReceipts(client: NoonClient, name: string, room: string): MemberReceipts {
  const m: MemberReceipts = { name, room, received: new Map(), closed: 0 };
  client.on('chatMessage', (msg) => {
    if (msg.roomId !== room) return;
    const text = msg.text ?? '';
    m.received.set(text, (m.received.get(text) ?? 0) + 1);
  });
  client.on('roomClosed', () => m.closed++);
  return m;
}
