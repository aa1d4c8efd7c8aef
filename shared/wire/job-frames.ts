/**
 * The message a job dispatcher PUSHes to a worker's PULL: three ZeroMQ frames,
 * `["noon-job/1", header, payload]`. The header is JSON (`id`, `kind`, `attempt`, `enqueuedAt`
 * ms, `key`); the payload is the job's value as stored in the outbox. A worker refuses anything
 * else without running it (the row stays claimed and its lease brings it back).
 */
export const JOB_TAG = 'noon-job/1';
const MAX_HEADER = 1024;

export interface JobMessage {
  id: string;
  kind: string;
  attempt: number;
  enqueuedAt: number;
  key: string | null;
  payload: Buffer;
}

export function encodeJob(m: JobMessage): Buffer[] {
  const header = JSON.stringify({ id: m.id, kind: m.kind, attempt: m.attempt, enqueuedAt: m.enqueuedAt, key: m.key });
  return [Buffer.from(JOB_TAG), Buffer.from(header), m.payload];
}

/** Decodes one message; throws naming what is wrong with it. */
export function decodeJob(frames: readonly Buffer[], maxPayload: number): JobMessage {
  if (frames.length !== 3) throw new Error(`a job message has 3 frames, got ${frames.length}`);
  const [tag, header, payload] = frames as [Buffer, Buffer, Buffer];
  if (tag.toString() !== JOB_TAG)
    throw new Error(`unknown job message tag ${JSON.stringify(tag.toString().slice(0, 32))}`);
  if (header.length > MAX_HEADER) throw new Error(`job header of ${header.length} bytes exceeds ${MAX_HEADER}`);
  if (payload.length > maxPayload) throw new Error(`job payload of ${payload.length} bytes exceeds ${maxPayload}`);
  let h: unknown;
  try {
    h = JSON.parse(header.toString());
  } catch {
    throw new Error('job header is not JSON');
  }
  const o = (typeof h === 'object' && h !== null ? h : {}) as Record<string, unknown>;
  if (typeof o.id !== 'string' || !/^[0-9]{1,19}$/.test(o.id))
    throw new Error('job header: id must be a decimal string');
  if (typeof o.kind !== 'string' || o.kind === '') throw new Error('job header: kind must be a non-empty string');
  if (!Number.isInteger(o.attempt) || (o.attempt as number) < 1)
    throw new Error('job header: attempt must be an integer ≥ 1');
  if (typeof o.enqueuedAt !== 'number' || !Number.isFinite(o.enqueuedAt))
    throw new Error('job header: enqueuedAt must be a number');
  if (o.key !== null && typeof o.key !== 'string') throw new Error('job header: key must be a string or null');
  return { id: o.id, kind: o.kind, attempt: o.attempt as number, enqueuedAt: o.enqueuedAt, key: o.key, payload };
}
