/**
 * The SDK's side of rooms: every room joined through `client.chat.join` is tracked by its last
 * seq, and its `chatMessage` events reach the app exactly once each, in seq order:
 *
 * - a message at or below the last seq is a duplicate and is dropped;
 * - a message past a gap is held while the gap is repaired from history (`Chat:history`);
 * - after a join, history is read from the snapshot's lastSeq on: the subscription took effect
 *   before the reply, so whatever was sent between the snapshot and the subscription is caught
 *   up, and nothing can fall in a hole;
 * - after a resume (the broker restores the session's rooms) history is read from the last seq
 *   seen, so what was sent while the client was away arrives too.
 *
 * Messages of rooms not joined through this client (or already left) pass straight through.
 */
/** What the tracker needs of a chat message (the IDL struct, i64 as Int64 or bigint). */
export interface SeqMessage {
  roomId?: string;
  seq?: unknown;
}

/** The Chat client calls the tracker follows. */
export interface ChatCalls<S> {
  join(roomId: string): Promise<S>;
  leave(roomId: string): Promise<void>;
}

export interface RoomTrackerOptions<Msg> {
  history(roomId: string, afterSeq: number, limit: number): Promise<Msg[]>;
  emit(message: Msg): void;
  logger?: { warn(obj: object, msg: string): void };
  /** history page size; default 200 (the server's most) */
  pageSize?: number;
  /**
   * A join or resume reads history again this long after the first catch-up, for a message sent
   * while the new subscription was still on its way to the publishers (a quiet room would
   * otherwise only notice it at its next message); default 1000 ms
   */
  settleMs?: number;
}

interface Room<Msg> {
  /** last seq delivered to the app; undefined until the join answered */
  last?: number;
  /** messages past the last seq, waiting for the ones before them */
  held: Map<number, Msg>;
  syncing: boolean;
  again: boolean;
}

const seqOf = (m: SeqMessage): number => Number(String(m.seq));

/** Attempts one sync makes before it waits for the next message (or resume) to try again. */
const SYNC_ATTEMPTS = 5;

export class RoomTracker<Msg extends SeqMessage> {
  private readonly rooms = new Map<string, Room<Msg>>();
  /** messages dropped as duplicates, and gaps repaired (for tests and diagnostics) */
  readonly stats = { duplicates: 0, repairs: 0 };

  constructor(private readonly opts: RoomTrackerOptions<Msg>) {}

  /** The last seq delivered for a tracked room. */
  lastSeq(roomId: string): number | undefined {
    return this.rooms.get(roomId)?.last;
  }

  /** `client.chat` with join and leave tracked. */
  wrap<C extends ChatCalls<S>, S extends { lastSeq?: unknown }>(chat: C): C {
    return new Proxy(chat, {
      get: (target, prop) => {
        if (prop === 'join') return (roomId: string) => this.join(roomId, () => target.join(roomId));
        if (prop === 'leave')
          return (roomId: string) => {
            this.rooms.delete(roomId);
            return target.leave(roomId);
          };
        const v: unknown = Reflect.get(target, prop, target);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  }

  /** A chatMessage push. */
  onMessage(m: Msg): void {
    const room = m.roomId === undefined ? undefined : this.rooms.get(m.roomId);
    if (!room) {
      this.opts.emit(m);
      return;
    }
    this.take(m.roomId as string, room, m);
  }

  /** After a resume: catch every tracked room up from its last seq. */
  resumed(): void {
    for (const [roomId, room] of this.rooms) if (room.last !== undefined) this.catchUp(roomId, room);
  }

  /** The session is gone (resume refused, logout): nothing is tracked any more. */
  forget(): void {
    this.rooms.clear();
  }

  private async join<S extends { lastSeq?: unknown }>(roomId: string, call: () => Promise<S>): Promise<S> {
    const existing = this.rooms.get(roomId);
    const room: Room<Msg> = existing ?? { held: new Map(), syncing: false, again: false };
    this.rooms.set(roomId, room);
    let snap: S;
    try {
      snap = await call();
    } catch (err) {
      if (!existing && this.rooms.get(roomId) === room) this.rooms.delete(roomId);
      throw err;
    }
    // A rejoin keeps its place, so what it missed is delivered; a first join starts at the snapshot.
    if (room.last === undefined) room.last = Number(String(snap.lastSeq ?? 0));
    this.flush(roomId, room);
    this.catchUp(roomId, room);
    return snap;
  }

  private catchUp(roomId: string, room: Room<Msg>): void {
    this.sync(roomId, room);
    setTimeout(() => {
      if (this.rooms.get(roomId) === room) this.sync(roomId, room);
    }, this.opts.settleMs ?? 1000).unref?.();
  }

  private take(roomId: string, room: Room<Msg>, m: Msg): void {
    const seq = seqOf(m);
    if ((room.last !== undefined && seq <= room.last) || room.held.has(seq)) {
      this.stats.duplicates++;
      return;
    }
    room.held.set(seq, m);
    if (room.last === undefined) return; // the join has not answered yet
    this.flush(roomId, room);
    if (room.held.size > 0) {
      this.stats.repairs++;
      this.sync(roomId, room);
    }
  }

  /** Delivers the held messages that follow the last seq without a gap. */
  private flush(roomId: string, room: Room<Msg>): void {
    if (room.last === undefined) return;
    for (const seq of [...room.held.keys()]) if (seq <= room.last) room.held.delete(seq);
    for (let next = room.held.get(room.last + 1); next !== undefined; next = room.held.get(room.last + 1)) {
      room.held.delete(room.last + 1);
      room.last++;
      // A leave made by a listener stops the rest.
      if (this.rooms.get(roomId) !== room) return;
      this.opts.emit(next);
    }
  }

  /** Reads history from the last seq until a short page: the room is then caught up. */
  private sync(roomId: string, room: Room<Msg>): void {
    if (room.syncing) {
      room.again = true;
      return;
    }
    room.syncing = true;
    void this.syncLoop(roomId, room).finally(() => {
      room.syncing = false;
      if (room.again && this.rooms.get(roomId) === room) {
        room.again = false;
        this.sync(roomId, room);
      }
    });
  }

  private async syncLoop(roomId: string, room: Room<Msg>): Promise<void> {
    const limit = this.opts.pageSize ?? 200;
    let failures = 0;
    while (this.rooms.get(roomId) === room && room.last !== undefined) {
      room.again = false;
      let page: Msg[];
      try {
        page = await this.opts.history(roomId, room.last, limit);
      } catch (err) {
        if (++failures >= SYNC_ATTEMPTS) {
          this.opts.logger?.warn(
            { err, roomId },
            'noon client could not read room history; retrying on the next message',
          );
          return;
        }
        await new Promise((r) => setTimeout(r, 100 * failures));
        continue;
      }
      for (const m of page) if (seqOf(m) > (room.last ?? 0)) room.held.set(seqOf(m), m);
      this.flush(roomId, room);
      if (page.length < limit && room.held.size === 0) return;
      if (page.length === 0) return; // held messages past a seq history does not have (yet): next message retries
    }
  }
}
