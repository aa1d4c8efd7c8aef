/**
 * The workload the faults run under: simulated players, each an SDK client through the BrokerList,
 * signed in with a device id, calling in a loop: money writes keyed by an idempotency key
 * (Player:playRound, Player:spendCurrency), whose every acknowledged one must be in Postgres, a
 * read or ping of every service, and a `Chat:say` into the room it is a member of (chaos/rooms.ts).
 * Beside them, pairs of duelists play staked duels to the end (chaos/duels.ts). Every call is
 * recorded with the scenario it started in.
 */
import Int64 from 'node-int64';
import { NoonClient } from '../client';
import { classify } from '../loadtest/stats';
import { Currency, RoundRequest, SpendRequest } from '../shared/protocol';
import { DuelPair, type CallResult, type DuelRecord } from './duels';
import { countReceipts, roomCount, roomName, type MemberReceipts, type SayRecord } from './rooms';
import { NO_CODE, type CallRecord, type Outcome } from './tally';
import { pause } from './wait';

/** The idempotency-key prefix of one run's writes, which the Postgres check looks for. */
export const keyPrefix = (tag: string): string => `chaos-${tag}-`;

/** A write's id as the check finds it in player_idempotency: user and stored key. */
export const writeId = (userId: string, key: string): string => `${userId}|c:${key}`;

/** Outcome of a rejected call: a game refusal is an answer; a timeout or a lost connection is unknown. */
export function outcomeOf(err: unknown): { outcome: Outcome; code: string } {
  const o = classify(err);
  switch (o.kind) {
    case 'game':
      return { outcome: 'ack', code: o.code };
    case 'timeout':
    case 'disconnect':
      return { outcome: 'unknown', code: o.code };
    case 'broker':
      return { outcome: o.code === 'TIMEOUT' ? 'unknown' : 'failed', code: o.code };
    case 'notSent':
      return { outcome: 'failed', code: o.code };
    default:
      return { outcome: 'failed', code: NO_CODE };
  }
}

export interface WorkloadOptions {
  brokerListUrl: string;
  players: number;
  /** pause between one player's calls */
  thinkMs: number;
  tag: string;
}

/** Pairs of duelists: one pair per six players, at least one. */
export const duelPairCount = (players: number): number => Math.max(1, Math.floor(players / 6));

export class Workload {
  readonly records: CallRecord[] = [];
  readonly says: SayRecord[] = [];
  readonly members: MemberReceipts[] = [];
  readonly duels: DuelRecord[] = [];
  /** the scenario new calls belong to (-1: warm-up, counted nowhere) */
  scenario = -1;
  private running = false;
  private loops: Array<Promise<void>> = [];
  private clients: NoonClient[] = [];

  constructor(private readonly o: WorkloadOptions) {}

  /** The room ids of the run. */
  get rooms(): string[] {
    return Array.from({ length: roomCount(this.o.players) }, (_, k) => roomName(keyPrefix(this.o.tag), k));
  }

  private async signIn(device: string): Promise<{ client: NoonClient; userId: string }> {
    const client = await NoonClient.viaBrokerList(this.o.brokerListUrl, { callTimeoutMs: 10_000 });
    this.clients.push(client);
    const session = await client.sso.loginDevice(`${keyPrefix(this.o.tag)}${device}`);
    return { client, userId: String(session.userId) };
  }

  /**
   * Signs every player in and makes it a member of its room, all before anyone talks (so each
   * member should receive every message of its room), signs the duelists in, then starts the loops.
   */
  async start(): Promise<void> {
    this.running = true;
    const players: Array<{ client: NoonClient; userId: string; room: string }> = [];
    for (let i = 0; i < this.o.players; i++) {
      const p = await this.signIn(`device-${i}`);
      const room = this.rooms[i % this.rooms.length]!;
      this.members.push(countReceipts(p.client, `player ${i}`, room));
      await p.client.chat.join(room);
      players.push({ ...p, room });
    }
    const pairs: DuelPair[] = [];
    for (let k = 0; k < duelPairCount(this.o.players); k++) {
      const a = await this.signIn(`duelist-${k}-a`);
      const b = await this.signIn(`duelist-${k}-b`);
      pairs.push(new DuelPair(a.client, b.client, 1 + k, (method, fn) => this.call(method, undefined, fn)));
    }
    for (const [i, p] of players.entries()) this.loops.push(this.play(p.client, p.userId, i, p.room));
    for (const pair of pairs) this.loops.push(this.duel(pair));
  }

  /** Ends the loops once their current calls have settled (the clients stay, still receiving). */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  close(): void {
    for (const c of this.clients) c.close();
  }

  private async duel(pair: DuelPair): Promise<void> {
    while (this.running) {
      const d = await pair.play(() => this.scenario);
      if (d) this.duels.push(d);
      await pause(this.o.thinkMs);
    }
  }

  private async say(c: NoonClient, room: string, text: string): Promise<void> {
    const { result, record } = await this.record('Chat:say', undefined, () => c.chat.say(room, text));
    const seq = result.ok ? Number(result.value.seq?.toString()) : undefined;
    const { scenario, outcome, code } = record;
    this.says.push({ scenario, room, text, outcome, code, ...(seq === undefined ? {} : { seq }) });
  }

  private async play(c: NoonClient, userId: string, player: number, room: string): Promise<void> {
    let n = 0;
    while (this.running) {
      const key = `${keyPrefix(this.o.tag)}${player}-${n}`;
      switch (n % 8) {
        case 0:
        case 3:
          await this.call('Player:playRound', writeId(userId, key), () =>
            c.player.playRound(new RoundRequest({ idempotencyKey: key, stage: 1 + (n % 3) })),
          );
          break;
        case 1:
        case 4:
          await this.call('Player:spendCurrency', writeId(userId, key), () =>
            c.player.spendCurrency(
              new SpendRequest({ idempotencyKey: key, currency: Currency.SOFT, amount: new Int64(1), reason: 'chaos' }),
            ),
          );
          break;
        case 2:
          await this.call('Leaderboard:top', undefined, () => c.leaderboard.top('chaos', 3));
          break;
        case 5:
          await this.call('Duel:ping', undefined, () => c.duel.ping());
          await this.call('Chat:ping', undefined, () => c.chat.ping());
          break;
        case 6:
          await this.call('Sso:ping', undefined, () => c.sso.ping());
          await this.call('Player:getWallet', undefined, () => c.player.getWallet());
          break;
        default:
          await this.say(c, room, `${key} says hello`);
      }
      n++;
      await pause(this.o.thinkMs);
    }
  }

  /** One call, recorded; its value, or the code it was rejected with (a game refusal's too). */
  private async call<T>(method: string, write: string | undefined, fn: () => Promise<T>): Promise<CallResult<T>> {
    return (await this.record(method, write, fn)).result;
  }

  private async record<T>(
    method: string,
    write: string | undefined,
    fn: () => Promise<T>,
  ): Promise<{ result: CallResult<T>; record: CallRecord }> {
    const scenario = this.scenario;
    const startedAt = Date.now();
    let result: { outcome: Outcome; code: string };
    let value: CallResult<T>;
    let detail: string | undefined;
    try {
      value = { ok: true, value: await fn() };
      result = { outcome: 'ack', code: '' };
    } catch (err) {
      result = outcomeOf(err);
      value = { ok: false, code: result.code };
      if (result.outcome !== 'ack') detail = (err instanceof Error ? err.message : String(err)).slice(0, 300);
    }
    const record: CallRecord = {
      scenario,
      method,
      startedAt,
      endedAt: Date.now(),
      ...result,
      ...(write === undefined ? {} : { write }),
      ...(detail === undefined ? {} : { detail }),
    };
    this.records.push(record);
    return { result: value, record };
  }
}
