/** Envelope builders and sizes shared by the frame-codec specs (test/unit/frames*.test.ts). */
import type {
  Directive,
  Envelope,
  PushEnvelope,
  ReplyEnvelope,
  RequestEnvelope,
  RoomEnvelope,
} from '../../shared/wire/frames';
import { NoonError } from '../../shared/errors';

export const MAX_PAYLOAD = 1 << 20;
export const EMPTY = Buffer.alloc(0);

export const request = (fields: Partial<RequestEnvelope> = {}): RequestEnvelope => ({
  kind: 'request',
  requestId: 7,
  timeoutMs: 5000,
  sessionId: 's-1',
  userId: 'u-1',
  username: 'ann',
  method: 'Player:getWallet',
  via: 'broker-1',
  traceId: 't-1',
  payload: Buffer.from([0x82, 0x21, 0x00, 0x09]),
  ...fields,
});
export const reply = (fields: Partial<ReplyEnvelope> = {}): ReplyEnvelope => ({
  kind: 'reply',
  requestId: 7,
  directives: [],
  payload: Buffer.from('ok'),
  ...fields,
});
export const push = (fields: Partial<PushEnvelope> = {}): PushEnvelope => ({
  kind: 'push',
  sessionId: 's-1',
  directives: [],
  payload: Buffer.from([0x82, 0x81]),
  ...fields,
});
export const room = (seq: number, topic = 'chat/lobby', payload = Buffer.from('m')): RoomEnvelope => ({
  kind: 'room',
  topic,
  seq,
  payload,
});

export const everyDirective: Array<{ name: string; directive: Directive }> = [
  { name: 'auth', directive: { type: 'auth', sessionId: 's-1', userId: 'u-1', username: 'ann' } },
  { name: 'logout', directive: { type: 'logout' } },
  { name: 'bind', directive: { type: 'bind', service: 'duel', instanceId: 'duel-2', sessionId: 's-1' } },
  { name: 'unbind', directive: { type: 'unbind', service: 'duel', sessionId: 's-1' } },
  { name: 'subscribe', directive: { type: 'subscribe', topic: 'chat/lobby', instanceId: 'chat-1' } },
  { name: 'unsubscribe', directive: { type: 'unsubscribe', topic: 'chat/lobby' } },
  { name: 'close', directive: { type: 'close', reason: 'resumed elsewhere' } },
  {
    name: 'channel',
    directive: {
      type: 'channel',
      topic: 'channels/news.eu',
      instanceId: 'channels-1',
      filter: "region = 'eu' AND level >= 10",
      afterSeq: 2 ** 32 + 7,
    },
  },
];
export const unsubscribes = (n: number): Directive[] =>
  Array.from({ length: n }, (_, i): Directive => ({ type: 'unsubscribe', topic: `t${i}` }));

/** One of every envelope kind and directive, with edge values: each must survive a round trip. */
export const roundTrips: Array<{ name: string; envelope: Envelope }> = [
  { name: 'a request', envelope: request() },
  {
    name: 'a request before login (empty session, user and name)',
    envelope: request({ sessionId: '', userId: '', username: '', method: 'Sso:login' }),
  },
  {
    name: 'a request with the largest u32 id and timeout',
    envelope: request({ requestId: 0xffffffff, timeoutMs: 0xffffffff }),
  },
  { name: 'a request with id and timeout 0', envelope: request({ requestId: 0, timeoutMs: 0 }) },
  {
    name: 'a request with multi-byte UTF-8 strings',
    envelope: request({ username: 'Zoë 🎲', sessionId: '東京-1', traceId: '\u0000nul' }),
  },
  { name: 'a request with a 60,000-byte string', envelope: request({ traceId: 't'.repeat(60_000) }) },
  { name: 'a request with an empty payload', envelope: request({ payload: EMPTY }) },
  {
    name: "a request with its caller's proof and no clientRequestId",
    envelope: request({ caller: { key: 'k'.repeat(40), proof: 'a'.repeat(32) } }),
  },
  {
    name: "a request with a clientRequestId and its caller's proof",
    envelope: request({ clientRequestId: 'c-1', caller: { key: 'k'.repeat(40), proof: 'a'.repeat(32) } }),
  },
  { name: 'a request with a 1 MiB payload', envelope: request({ payload: Buffer.alloc(MAX_PAYLOAD, 0xab) }) },
  { name: 'a reply', envelope: reply() },
  {
    name: 'a reply with an error (retryable by its code)',
    envelope: reply({ error: new NoonError('BUSY', 'full'), payload: EMPTY }),
  },
  {
    name: "a reply with an error whose retryable flag differs from its code's",
    envelope: reply({ error: new NoonError('INTERNAL', 'try elsewhere', true), payload: EMPTY }),
  },
  {
    name: 'a reply with an error and directives',
    envelope: reply({
      requestId: 9,
      error: new NoonError('PROTOCOL', 'bad Duel:move message', false),
      directives: [{ type: 'logout' }],
      payload: EMPTY,
    }),
  },
  {
    name: 'a reply with every directive kind',
    envelope: reply({ directives: everyDirective.map((d) => d.directive) }),
  },
  {
    name: 'a reply with 16 directives (the most a header may carry)',
    envelope: reply({ directives: unsubscribes(16) }),
  },
  { name: 'a push', envelope: push() },
  {
    name: 'a directives-only push (no session, no payload)',
    envelope: push({ sessionId: '', directives: [{ type: 'close', reason: 'kicked' }], payload: EMPTY }),
  },
  { name: 'a room message with seq 0', envelope: room(0) },
  { name: 'a room message with seq 2^32 - 1', envelope: room(0xffffffff) },
  { name: 'a room message with seq 2^32', envelope: room(2 ** 32) },
  { name: 'a room message with the largest safe integer seq', envelope: room(Number.MAX_SAFE_INTEGER) },
  { name: 'a room message on an empty topic, without payload', envelope: room(1, '', EMPTY) },
];
