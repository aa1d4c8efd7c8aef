/**
 * The rooms' and the duels' counts per scenario, and the targets they miss. Pure: it folds the
 * says, what Postgres stored in the rooms, what each member's app received, and the duels'
 * endings into counts, attributing each message and each duel to the scenario it started in.
 */
import type { DuelRecord } from './duels';
import { FINISHED } from './duels';
import type { MemberReceipts, SayRecord } from './rooms';
import type { Scenario } from './scenarios';

export interface RoomCounts {
  /** says acknowledged with a message (game refusals aside) */
  acked: number;
  /** acknowledged says that every member of their room received exactly once */
  ackedToAll: number;
  /** (stored message, member) pairs: each member should receive each stored message once */
  deliveriesExpected: number;
  delivered: number;
  /** pairs where the member never received the stored message */
  missing: number;
  /** receipts beyond the first of one message by one member */
  doubled: number;
  /** acknowledged says absent from Postgres, or stored under another seq than the reply gave */
  lost: number;
  /** extra copies of one say stored (a re-sent say applied twice) */
  storedTwice: number;
  /** says reported failed that were stored anyway */
  failedButStored: number;
  /** outcome-unknown says that were stored (for information: they must still be delivered) */
  unknownStored: number;
  /** messages a member received that Postgres does not hold */
  receivedUnstored: number;
}

export interface DuelCounts {
  /** duels made (both stakes in escrow) */
  started: number;
  finished: number;
  /** how the duels ended: `finished <reason>`, or the code that ended them (STATE_LOST, …) */
  byEnd: Record<string, number>;
}

export interface GameCounts {
  rooms: RoomCounts;
  duels: DuelCounts;
}

/** One stored chat message. */
export interface StoredMessage {
  room: string;
  seq: number;
  text: string;
}

const bump = (m: Record<string, number>, k: string): void => {
  m[k] = (m[k] ?? 0) + 1;
};

export function countRooms(
  index: number,
  says: readonly SayRecord[],
  stored: readonly StoredMessage[],
  members: readonly MemberReceipts[],
): RoomCounts {
  const c: RoomCounts = {
    acked: 0,
    ackedToAll: 0,
    deliveriesExpected: 0,
    delivered: 0,
    missing: 0,
    doubled: 0,
    lost: 0,
    storedTwice: 0,
    failedButStored: 0,
    unknownStored: 0,
    receivedUnstored: 0,
  };
  const seqsOf = new Map<string, number[]>();
  for (const m of stored) seqsOf.set(`${m.room}\n${m.text}`, [...(seqsOf.get(`${m.room}\n${m.text}`) ?? []), m.seq]);
  for (const s of says) {
    if (s.scenario !== index) continue;
    const seqs = seqsOf.get(`${s.room}\n${s.text}`) ?? [];
    const inRoom = members.filter((m) => m.room === s.room);
    const acked = s.outcome === 'ack' && s.code === '';
    if (acked) {
      c.acked++;
      if (seqs.length === 0 || (s.seq !== undefined && !seqs.includes(s.seq))) c.lost++;
    }
    if (seqs.length > 0 && s.outcome === 'failed') c.failedButStored++;
    if (seqs.length > 0 && s.outcome === 'unknown') c.unknownStored++;
    c.storedTwice += Math.max(0, seqs.length - 1);
    let toAll = true;
    for (const m of inRoom) {
      const n = m.received.get(s.text) ?? 0;
      if (seqs.length === 0) {
        c.receivedUnstored += n;
        continue;
      }
      c.deliveriesExpected++;
      if (n > 0) c.delivered++;
      else c.missing++;
      c.doubled += Math.max(0, n - 1);
      if (n !== 1) toAll = false;
    }
    if (acked && seqs.length > 0 && toAll) c.ackedToAll++;
  }
  return c;
}

export function countDuels(index: number, duels: readonly DuelRecord[]): DuelCounts {
  const c: DuelCounts = { started: 0, finished: 0, byEnd: {} };
  for (const d of duels) {
    if (d.scenario !== index) continue;
    c.started++;
    if (d.outcome === FINISHED) {
      c.finished++;
      bump(c.byEnd, `finished ${d.reason || '?'}`);
    } else bump(c.byEnd, d.outcome);
  }
  return c;
}

/** Every rooms or duels target the scenario missed, in words. */
export function missedGameTargets(s: Scenario, g: GameCounts): string[] {
  const r = g.rooms;
  const out: string[] = [];
  if (r.lost > 0) out.push(`${r.lost} acknowledged say(s) lost (not stored under the seq they were given)`);
  if (r.missing > 0) out.push(`${r.missing} delivery(ies) missing: a member never received a stored message`);
  if (r.doubled > 0) out.push(`${r.doubled} message(s) received twice by one member`);
  if (r.storedTwice > 0) out.push(`${r.storedTwice} say(s) stored twice`);
  if (r.failedButStored > 0) out.push(`${r.failedButStored} say(s) reported failed were stored`);
  if (r.receivedUnstored > 0) out.push(`${r.receivedUnstored} message(s) received that Postgres does not hold`);
  const unfinished = g.duels.started - g.duels.finished;
  if (s.fault.kind === 'rolling' && unfinished > 0)
    out.push(`${unfinished} duel(s) did not finish across a rolling restart (${endings(g.duels.byEnd)})`);
  return out;
}

export function endings(m: Record<string, number>): string {
  return Object.entries(m)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
}
