/**
 * Hostile input, reproducibly: valid client calls (login, player, chat, duel; compact and binary)
 * and the mutations that turn them into garbage — bit flips, truncation, inserted and deleted
 * bytes, lengths and counts made huge, deep nesting, `__proto__` map keys. One seed gives the
 * same frames on every run. Pure: no sockets (the runner in fuzz-run.ts sends them).
 */
import * as thrift from 'thrift';
import Int64 from 'node-int64';
import {
  BuyRequest,
  Chat,
  Currency,
  Duel,
  DuelAction,
  DuelActRequest,
  Player,
  SpendRequest,
  Sso,
} from '../../shared/protocol';
import { MessageType, peekHeader, type ThriftProtocol } from '../../shared/thrift/header';
import { buildMessage } from '../../shared/thrift/messages';

/** mulberry32: a small seeded PRNG, [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Writable {
  write(out: thrift.TProtocol): void;
}

function call(protocol: ThriftProtocol, name: string, seqid: number, args: Writable): Buffer {
  return buildMessage(protocol, (out) => {
    out.writeMessageBegin(name, thrift.Thrift.MessageType.CALL, seqid);
    args.write(out);
    out.writeMessageEnd();
  });
}

/** A map<string,string> argument whose keys try to reach Object.prototype. */
function protoMapCall(protocol: ThriftProtocol, seqid: number): Buffer {
  return buildMessage(protocol, (out) => {
    out.writeMessageBegin('Chat:say', thrift.Thrift.MessageType.CALL, seqid);
    out.writeStructBegin('SayArgs');
    out.writeFieldBegin('roomId', thrift.Thrift.Type.MAP, 1);
    out.writeMapBegin(thrift.Thrift.Type.STRING, thrift.Thrift.Type.STRING, 3);
    for (const k of ['__proto__', 'constructor', 'prototype']) {
      out.writeString(k);
      out.writeString('{"polluted":true}');
    }
    out.writeMapEnd();
    out.writeFieldEnd();
    out.writeFieldStop();
    out.writeStructEnd();
    out.writeMessageEnd();
  });
}

/** A call whose only argument is `depth` lists nested in each other. */
function nestedCall(protocol: ThriftProtocol, seqid: number, depth: number): Buffer {
  return buildMessage(protocol, (out) => {
    out.writeMessageBegin('Player:getProfile', thrift.Thrift.MessageType.CALL, seqid);
    out.writeStructBegin('Args');
    out.writeFieldBegin('x', thrift.Thrift.Type.LIST, 1);
    for (let i = 0; i < depth; i++) out.writeListBegin(thrift.Thrift.Type.LIST, 1);
    out.writeListBegin(thrift.Thrift.Type.I32, 0);
    for (let i = 0; i <= depth; i++) out.writeListEnd();
    out.writeFieldEnd();
    out.writeFieldStop();
    out.writeStructEnd();
    out.writeMessageEnd();
  });
}

/** Valid calls of every kind the fuzzer starts from, in both protocols. */
export function seedCalls(): Buffer[] {
  const key = 'fuzz-key-0001';
  const seeds: Array<[string, Writable]> = [
    ['Sso:login', new Sso.LoginArgs({ username: 'fuzz-user', password: 'fuzz-password-1' })],
    ['Sso:register', new Sso.RegisterArgs({ username: 'fuzz-new', password: 'fuzz-password-1' })],
    ['Sso:resume', new Sso.ResumeArgs({ token: 'x'.repeat(64) })],
    ['Player:getProfile', new Player.GetProfileArgs()],
    [
      'Player:spendCurrency',
      new Player.SpendCurrencyArgs({
        req: new SpendRequest({ idempotencyKey: key, currency: Currency.SOFT, amount: new Int64(5) }),
      }),
    ],
    [
      'Player:buyCurrency',
      new Player.BuyCurrencyArgs({
        req: new BuyRequest({ receiptId: 'r-1', currency: Currency.HARD, amount: new Int64(100) }),
      }),
    ],
    ['Chat:say', new Chat.SayArgs({ roomId: 'lobby', text: 'hello' })],
    ['Chat:join', new Chat.JoinArgs({ roomId: 'lobby' })],
    ['Duel:findMatch', new Duel.FindMatchArgs({ stake: new Int64(0) })],
    ['Duel:act', new Duel.ActArgs({ req: new DuelActRequest({ duelId: 'd-1', action: DuelAction.DRAW }) })],
  ];
  const out: Buffer[] = [];
  for (const protocol of ['compact', 'binary'] as const) {
    seeds.forEach(([name, args], i) => out.push(call(protocol, name, i + 1, args)));
    out.push(protoMapCall(protocol, 99), nestedCall(protocol, 100, 64));
  }
  return out;
}

/** The methods of the seed calls: a mutated frame still naming one of them is routed to its service. */
export const SEED_METHODS: ReadonlySet<string> = new Set([
  'Sso:login',
  'Sso:register',
  'Sso:resume',
  'Player:getProfile',
  'Player:spendCurrency',
  'Player:buyCurrency',
  'Chat:say',
  'Chat:join',
  'Duel:findMatch',
  'Duel:act',
]);

/** Bytes of a message header (protocol id/version and type, seqid, method name); the arguments follow. */
export function headerLength(message: Buffer): number {
  if (message[0] === 0x82) {
    let pos = 2;
    let nameLength = 0;
    for (const field of ['seqid', 'name length']) {
      let value = 0;
      for (let shift = 0; pos < message.length; shift += 7) {
        const b = message[pos++] as number;
        value |= (b & 0x7f) << shift;
        if ((b & 0x80) === 0) break;
      }
      if (field === 'name length') nameLength = value;
    }
    return Math.min(message.length, pos + nameLength);
  }
  return Math.min(message.length, 8 + (message.length >= 8 ? message.readInt32BE(4) : 0) + 4);
}

/**
 * Whether the broker keeps a connection open after this framed message: its length prefix is
 * honest and its header is a CALL of a seed method. Anything else (a lying length, a broken
 * header, an unknown method) gets the connection closed, and with it whatever was sent after it.
 */
export function keepsConnection(frame: Buffer, maxMethodName = 128): boolean {
  const body = frame.subarray(4);
  if (body.length === 0 || frame.readUInt32BE(0) !== body.length) return false;
  try {
    const header = peekHeader(body, maxMethodName);
    return header.type === MessageType.CALL && SEED_METHODS.has(header.name);
  } catch {
    return false;
  }
}

/** Share of byte mutations placed in the arguments, past the header: the method name stays intact. */
const ARGUMENT_SHARE = 0.9;

export type Mutation =
  'flip' | 'truncate' | 'insert' | 'delete' | 'huge-length' | 'huge-count' | 'nest' | 'proto' | 'none';

const MUTATIONS: readonly Mutation[] = [
  'flip',
  'flip',
  'flip',
  'truncate',
  'insert',
  'delete',
  'huge-length',
  'huge-count',
  'nest',
  'proto',
  'none',
];

/** One hostile frame body from the seeds. */
export function mutate(seeds: readonly Buffer[], random: () => number): { body: Buffer; mutation: Mutation } {
  const pick = (n: number): number => Math.floor(random() * n);
  const seed = seeds[pick(seeds.length)] as Buffer;
  const mutation = MUTATIONS[pick(MUTATIONS.length)] as Mutation;
  let b: Buffer = Buffer.from(seed);
  // Most mutations land in the arguments, so the broker routes them to the service's decoder; the
  // rest may hit the header too (the broker's own parsing).
  const from = random() < ARGUMENT_SHARE ? headerLength(seed) : 0;
  const at = (extra = 0): number => from + pick(Math.max(1, b.length - from + extra));
  switch (mutation) {
    case 'flip':
      for (let n = 1 + pick(4); n > 0; n--) {
        const i = Math.min(b.length - 1, at());
        b[i] = (b[i] as number) ^ (1 << pick(8));
      }
      break;
    case 'truncate':
      b = b.subarray(0, at());
      break;
    case 'insert': {
      const i = at(1);
      const extra = Buffer.from(Array.from({ length: 1 + pick(8) }, () => pick(256)));
      b = Buffer.concat([b.subarray(0, i), extra, b.subarray(i)]);
      break;
    }
    case 'delete': {
      const i = at();
      b = Buffer.concat([b.subarray(0, i), b.subarray(i + 1 + pick(4))]);
      break;
    }
    case 'huge-length': {
      // Four bytes made 0x7fffffff / 0xffffffff: a string or list length, or (from 0) the name's.
      const i = Math.max(0, Math.min(b.length - 4, from > 0 ? at(-4) : 4 + pick(Math.max(1, b.length - 8))));
      if (b.length >= 4) b.writeUInt32BE(random() < 0.5 ? 0x7fffffff : 0xffffffff, i);
      break;
    }
    case 'huge-count': {
      // A list header of 2^31 one-byte elements appended where an argument starts.
      const tail = Buffer.from([0x19, 0xf3, 0xff, 0xff, 0xff, 0xff, 0x07, 0x01]);
      b = Buffer.concat([b.subarray(0, Math.min(b.length, Math.max(from, 12) + pick(8))), tail]);
      break;
    }
    case 'nest':
      b = nestedCall(seed[0] === 0x82 ? 'compact' : 'binary', 7, 20 + pick(5000));
      break;
    case 'proto':
      b = protoMapCall(seed[0] === 0x82 ? 'compact' : 'binary', 8);
      break;
    case 'none':
      break;
  }
  return { body: b, mutation };
}

/** The 4-byte length prefix of framed Thrift; now and then (4 %) a lying one (too short, too long, huge). */
export function framed(body: Buffer, random: () => number): Buffer {
  const len = Buffer.alloc(4);
  const r = random();
  const declared =
    r < 0.96 ? body.length : r < 0.97 ? Math.max(0, body.length - 3) : r < 0.99 ? body.length + 3 : 0xfffffff0;
  len.writeUInt32BE(declared >>> 0);
  return Buffer.concat([len, body]);
}
