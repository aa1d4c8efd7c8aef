/**
 * Jobs and events in the service API. A job is work that can follow a request (an analytics row,
 * a report): the handler enqueues it in its own transaction and a worker runs it later. An event
 * is a fact other services may react to (a duel finished): the publisher writes it in its own
 * transaction and every subscribing service receives it once. Both are IDL structs, stored in the
 * outbox (shared/data/outbox.ts) with the state change that caused them, so neither is lost nor
 * sent for a change that rolled back. docs/jobs.md describes the guarantees.
 */
import { ErrorCode, GameError } from '../shared/protocol';
import { NoonError } from '../shared/errors';
import type { Logger } from '../shared/log';
import type { Queryable } from '../shared/data/sql';
import { insertEvent, insertJob } from '../shared/data/outbox';
import { decodeStruct, encodeStruct, type StructClass, type Writable } from '../shared/thrift/struct-codec';

export type { StructClass } from '../shared/thrift/struct-codec';

/** Names of jobs and events: `duel.finished`, `my-game.level_up`. */
const NAME = /^[a-z][a-z0-9_.:-]{0,63}$/;
/** The default for a job or event that names none: attempts before it goes to the dead-letter table. */
export const DEFAULT_MAX_ATTEMPTS = 10;
const MAX_KEY = 200;

function checkName(what: string, name: string): string {
  if (!NAME.test(name))
    throw new NoonError(
      'BAD_REQUEST',
      `${what} name ${JSON.stringify(name)} must be 1..64 of [a-z0-9_.:-], starting with a letter`,
    );
  return name;
}

function checkAttempts(what: string, n: number | undefined): number {
  const v = n ?? DEFAULT_MAX_ATTEMPTS;
  if (!Number.isInteger(v) || v < 1 || v > 1000)
    throw new NoonError('BAD_REQUEST', `${what}: maxAttempts must be an integer 1..1000, got ${String(n)}`);
  return v;
}

function checkKey(what: string, key: string | undefined): string | undefined {
  if (key !== undefined && (key === '' || key.length > MAX_KEY))
    throw new NoonError('BAD_REQUEST', `${what}: key must be 1..${MAX_KEY} characters`);
  return key;
}

function checkDelay(what: string, delayMs: number | undefined): number {
  const v = delayMs ?? 0;
  if (!Number.isFinite(v) || v < 0) throw new NoonError('BAD_REQUEST', `${what}: delayMs must be ≥ 0, got ${v}`);
  return v;
}

export interface EnqueueOptions {
  /** run no earlier than this many ms from now */
  delayMs?: number;
  /** jobs with the same key run one at a time, in the order they were enqueued */
  key?: string;
}

/** A kind of job: its name, the IDL struct it carries, and how often it is tried. */
export interface JobType<T extends Writable> {
  readonly name: string;
  readonly struct: StructClass<T>;
  readonly maxAttempts: number;
  /**
   * Writes the job into the outbox through `q` — the caller's transaction, so the job exists
   * exactly when the state change beside it commits. Returns the job's id.
   */
  enqueue(q: Queryable, value: T, opts?: EnqueueOptions): Promise<string>;
}

/** A kind of event: its name and the IDL struct it carries. */
export interface EventType<T extends Writable> {
  readonly name: string;
  readonly struct: StructClass<T>;
  readonly maxAttempts: number;
  /**
   * Writes the event through `q` (the caller's transaction): one delivery for each subscribing
   * service. Events with the same `key` reach each subscriber in the order they were published.
   * Returns how many services it is owed to.
   */
  publish(q: Queryable, value: T, opts?: { key?: string }): Promise<number>;
}

export function defineJob<T extends Writable>(
  name: string,
  struct: StructClass<T>,
  opts: { maxAttempts?: number } = {},
): JobType<T> {
  const kind = checkName('job', name);
  const maxAttempts = checkAttempts(`job ${kind}`, opts.maxAttempts);
  return {
    name: kind,
    struct,
    maxAttempts,
    enqueue: (q, value, o = {}) =>
      insertJob(q, {
        kind,
        payload: encodeStruct(value),
        key: checkKey(`job ${kind}`, o.key),
        delayMs: checkDelay(`job ${kind}`, o.delayMs),
        maxAttempts,
      }),
  };
}

export function defineEvent<T extends Writable>(
  name: string,
  struct: StructClass<T>,
  opts: { maxAttempts?: number } = {},
): EventType<T> {
  const kind = checkName('event', name);
  const maxAttempts = checkAttempts(`event ${kind}`, opts.maxAttempts);
  return {
    name: kind,
    struct,
    maxAttempts,
    publish: (q, value, o = {}) =>
      insertEvent(q, { kind, payload: encodeStruct(value), key: checkKey(`event ${kind}`, o.key), maxAttempts }),
  };
}

/** What a job or event handler gets with each delivery. */
export interface DeliveryContext {
  /** the delivery's id: its idempotency key (a delivery that completed is never run again) */
  id: string;
  /** 1 for the first attempt */
  attempt: number;
  enqueuedAt: Date;
  /** the key it was enqueued or published with, or null */
  key: string | null;
  /**
   * The transaction the delivery's completion commits in: write the effect through it, and the
   * effect and the completion commit together (or neither does, and it is tried again).
   */
  q: Queryable;
  log: Logger;
}

/** A handler of one job or event kind, type-erased for lists (built by `handleJob` or `onEvent`). */
export interface DeliveryHandler {
  readonly of: 'job' | 'event';
  readonly kind: string;
  run(payload: Buffer, ctx: DeliveryContext): Promise<void>;
}

export type JobHandler = DeliveryHandler & { readonly of: 'job' };
export type EventHandler = DeliveryHandler & { readonly of: 'event' };

/** A worker's handler of `job` (declared in a module's `jobs`). */
export function handleJob<T extends Writable>(
  job: JobType<T>,
  fn: (value: T, ctx: DeliveryContext) => Promise<void>,
): JobHandler {
  return { of: 'job', kind: job.name, run: (payload, ctx) => fn(decodeStruct(job.struct, payload), ctx) };
}

/** A service's subscription to `event` (declared in its ServiceDef's `subscriptions`). */
export function onEvent<T extends Writable>(
  event: EventType<T>,
  fn: (value: T, ctx: DeliveryContext) => Promise<void>,
): EventHandler {
  return { of: 'event', kind: event.name, run: (payload, ctx) => fn(decodeStruct(event.struct, payload), ctx) };
}

/**
 * Thrown by a handler for a delivery that can never succeed (its value makes no sense any more):
 * it goes to the dead-letter table at once instead of being tried again.
 */
export class JobRefused extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'JobRefused';
  }
}

/**
 * Whether a handler's error is a refusal: a JobRefused, a GameError that is not retryable (the
 * IDL's declared refusal, e.g. from a nested call), or a value that does not decode.
 */
export function isRefusal(err: unknown): boolean {
  if (err instanceof JobRefused) return true;
  if (err instanceof GameError) return err.retryable !== true && err.code !== ErrorCode.INTERNAL;
  return err instanceof NoonError && err.code === 'BAD_REQUEST' && !err.retryable;
}
