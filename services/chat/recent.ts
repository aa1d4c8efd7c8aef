/**
 * Recent room history in the Kv: one capped list per room (`chat:{<room>}:recent`, JSON per
 * message, oldest first). It is a cache of Postgres: a read uses it only when it holds a gapless
 * run of the requested range; a failed append deletes the list so that no reader trusts a copy
 * with a hole (readers then go to Postgres until new messages refill it).
 */
import type { Kv } from '../../shared/data/kv';
import type { Logger } from '../../shared/log';
import type { Message } from './store';

/** Messages kept per room in the Kv (history reads of up to this many can skip Postgres). */
export const RECENT_CAP = 200;

const key = (roomId: string): string => `chat:{${roomId}}:recent`;

function parse(s: string): Message | undefined {
  try {
    const m = JSON.parse(s) as Partial<Message>;
    return typeof m.seq === 'number' && typeof m.text === 'string' ? (m as Message) : undefined;
  } catch {
    return undefined;
  }
}

export class RecentHistory {
  constructor(
    private readonly kv: Kv,
    private readonly log: Logger,
  ) {}

  /** Appends messages of one room, in seq order, in one command. */
  async append(roomId: string, ms: readonly Message[]): Promise<void> {
    // Only the newest RECENT_CAP can stay in the list anyway.
    const kept = ms.slice(-RECENT_CAP).map((m) => JSON.stringify(m));
    try {
      await this.kv.pushCapped(key(roomId), kept, RECENT_CAP);
    } catch (err) {
      this.log.warn(
        { err: (err as Error).message, room: roomId },
        'recent history append failed; dropping the cached list',
      );
      await this.kv.del(key(roomId)).catch(() => undefined);
    }
  }

  /**
   * Messages with seq > afterSeq (at most `limit`), or undefined when the Kv cannot prove it has
   * them: it is down, empty, starts after afterSeq + 1, or has a gap. With `lastSeq` known (the
   * owner's counter) the run must also reach it or fill `limit`.
   */
  async after(roomId: string, afterSeq: number, limit: number, lastSeq?: number): Promise<Message[] | undefined> {
    let raw: string[];
    try {
      raw = await this.kv.range(key(roomId), 0, -1);
    } catch {
      return undefined;
    }
    const all = raw.map(parse);
    const run: Message[] = [];
    for (const m of all) {
      if (m === undefined) return undefined;
      if (m.seq <= afterSeq) continue;
      if (m.seq !== afterSeq + run.length + 1) return undefined;
      run.push(m);
      if (run.length === limit) return run;
    }
    if (lastSeq !== undefined) return afterSeq + run.length === lastSeq ? run : undefined;
    // Without the owner's counter an empty run proves nothing (the list may be behind).
    return run.length > 0 ? run : undefined;
  }
}
