/**
 * A WebSocket client speaking Thrift's JSON protocol (subprotocol `thrift-json`) with the npm
 * `thrift` package's TJSONProtocol and the generated structs: sends calls as text messages and
 * waits for the reply to a seqid or for a push by name. `sendText` sends any text (hostile input).
 */
import * as thrift from 'thrift';
import WebSocket from 'ws';
import { until } from './wait';

export interface Writable {
  write(out: thrift.TProtocol): void;
}

export interface JsonMessage {
  name: string;
  type: number;
  seqid: number;
  text: string;
  /** TJSONProtocol positioned at the message's struct */
  input(): thrift.TProtocol;
}

/** What TJSONProtocol writes for one message. */
export function tjson(name: string, type: thrift.Thrift.MessageType, seqid: number, body: Writable): string {
  let text = '';
  const trans = { write: (s: string | Buffer) => (text += s.toString()), flush: () => undefined };
  const p = new thrift.TJSONProtocol(trans as unknown as thrift.TTransport);
  p.writeMessageBegin(name, type, seqid);
  body.write(p);
  p.writeMessageEnd();
  return text;
}

function parse(text: string): JsonMessage {
  const input = (): thrift.TProtocol => {
    const p = new thrift.TJSONProtocol(new thrift.TFramedTransport(Buffer.from(text)));
    p.readMessageBegin();
    return p;
  };
  const p = new thrift.TJSONProtocol(new thrift.TFramedTransport(Buffer.from(text)));
  const h = p.readMessageBegin();
  return { name: h.fname, type: h.mtype, seqid: h.rseqid, text, input };
}

export class JsonWsClient {
  readonly messages: JsonMessage[] = [];
  /** frames that were not text */
  binaryFrames = 0;
  closeCode: number | undefined;
  private seq = 0;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (isBinary) this.binaryFrames++;
      else this.messages.push(parse(String(data)));
    });
    ws.on('close', (code) => (this.closeCode = code));
    ws.on('error', () => undefined);
  }

  static async connect(url: string, protocol: string | undefined = 'thrift-json'): Promise<JsonWsClient> {
    const ws = protocol === undefined ? new WebSocket(url) : new WebSocket(url, protocol);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    return new JsonWsClient(ws);
  }

  get closed(): boolean {
    return this.closeCode !== undefined;
  }

  sendText(text: string): void {
    this.ws.send(text);
  }

  /** Sends one call; resolves with its reply (REPLY or EXCEPTION). */
  async call(name: string, args: Writable, seqid = ++this.seq): Promise<JsonMessage> {
    this.sendText(tjson(name, thrift.Thrift.MessageType.CALL, seqid, args));
    return this.replyTo(seqid);
  }

  async replyTo(seqid: number, deadlineMs = 10_000): Promise<JsonMessage> {
    return until(
      `JSON reply ${seqid}`,
      () => this.messages.find((m) => m.seqid === seqid && (m.type === 2 || m.type === 3)),
      deadlineMs,
    );
  }

  async push(name: string, deadlineMs = 10_000): Promise<JsonMessage> {
    return until(`JSON push ${name}`, () => this.messages.find((m) => m.type === 4 && m.name === name), deadlineMs);
  }

  close(): void {
    this.ws.terminate();
  }
}

/** The message of a TApplicationException reply (from either protocol's input). */
export function exceptionText(input: thrift.TProtocol): string {
  const e = new thrift.Thrift.TApplicationException();
  e.read(input);
  return e.message;
}
