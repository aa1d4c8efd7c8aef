/**
 * The workload the faults run under: simulated players, each an SDK client through the BrokerList,
 * signed in with a device id, calling in a loop: money writes keyed by an idempotency key
 * (Player:playRound, Player:spendCurrency), whose every acknowledged one must be in Postgres, and a
 * read or ping of every service. Every call is recorded with the scenario it started in.
 */
import Int64 from 'node-int64';
import { NoonClient } from '../client';
import { classify } from '../loadtest/stats';
import { Currency, RoundRequest, SpendRequest } from '../shared/protocol';
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

export class Workload {
  readonly records: CallRecord[] = [];
  /** the scenario new calls belong to (-1: warm-up, counted nowhere) */
  scenario = -1;
  private running = false;
  private loops: Array<Promise<void>> = [];
  private clients: NoonClient[] = [];

  constructor(private readonly o: WorkloadOptions) {}

  /** Signs every player in, then starts their loops. */
  async start(): Promise<void> {
    this.running = true;
    for (let i = 0; i < this.o.players; i++) {
      const c = await NoonClient.viaBrokerList(this.o.brokerListUrl, { callTimeoutMs: 10_000, roomCatchUp: false });
      this.clients.push(c);
      const session = await c.sso.loginDevice(`${keyPrefix(this.o.tag)}device-${i}`);
      this.loops.push(this.play(c, String(session.userId), i));
    }
  }

  /** Ends the loops once their current calls have settled, and closes the clients. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    for (const c of this.clients) c.close();
  }

  private async play(c: NoonClient, userId: string, player: number): Promise<void> {
    let n = 0;
    while (this.running) {
      const key = `${keyPrefix(this.o.tag)}${player}-${n}`;
      switch (n % 7) {
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
        default:
          await this.call('Sso:ping', undefined, () => c.sso.ping());
          await this.call('Player:getWallet', undefined, () => c.player.getWallet());
      }
      n++;
      await pause(this.o.thinkMs);
    }
  }

  private async call(method: string, write: string | undefined, fn: () => Promise<unknown>): Promise<void> {
    const scenario = this.scenario;
    const startedAt = Date.now();
    let result: { outcome: Outcome; code: string };
    try {
      await fn();
      result = { outcome: 'ack', code: '' };
    } catch (err) {
      result = outcomeOf(err);
    }
    this.records.push({
      scenario,
      method,
      startedAt,
      endedAt: Date.now(),
      ...result,
      ...(write === undefined ? {} : { write }),
    });
  }
}
