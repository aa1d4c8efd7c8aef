/**
 * The framed-Thrift TCP listener, plain or TLS. Framing is ours (edge/framing.ts); a bad length
 * closes the connection before anything is buffered. Writes to a connection within one
 * event-loop turn are gathered and leave in one socket write (edge/coalesce.ts); a shared push
 * is framed once for every connection (edge/shared-push.ts). With `tls`, a connection is
 * handed to the broker only once its TLS handshake is done, which must be within
 * handshakeTimeoutMs of the connect; the certificate comes from TlsCredentials and is swapped on
 * reload for new connections only.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Logger } from '../shared/log';
import type { ThriftProtocol } from '../shared/thrift/header';
import { Coalescer } from './coalesce';
import { FrameDecoder, frameOf } from './framing';
import type { Wire } from './client-conn';
import type { SharedPush } from './shared-push';
import type { TlsCredentials } from './tls';

/** Where an admitted connection's messages and its end go (the broker's side of it). */
export interface ConnInput {
  message(bytes: Buffer): void;
  closed(): void;
}

export interface TcpHandlers {
  /** a new connection passed admission; returns where its messages go */
  open(wire: Wire): ConnInput | undefined;
}

/** What every connection of one listener shares (one object, not a copy per connection). */
interface ListenerContext {
  maxFrame: number;
  logger: Logger;
}

/** The TcpConnection a socket belongs to, for the socket's listeners (shared functions, not closures). */
const CONNECTION = Symbol('noon.tcpConnection');
type TaggedSocket = Socket & { [CONNECTION]?: TcpConnection };

/**
 * One client socket as a Wire. Everything per connection is in fields of this one object: at
 * 20,000 idle connections a closure or an empty Map each is megabytes (bench/idle-conns.ts).
 */
class TcpConnection implements Wire {
  private out: Coalescer | undefined;
  /** made on the first bytes: an idle connection has none to reassemble */
  private decoder: FrameDecoder | undefined;
  input: ConnInput | undefined;

  constructor(
    private readonly socket: Socket,
    readonly remote: string,
    readonly transport: 'tcp' | 'tls',
    private readonly context: ListenerContext,
  ) {}

  write(message: Buffer, done: () => void): void {
    if (this.socket.destroyed) return done();
    const out = this.gathered();
    const [len] = frameOf(message);
    out.add(len as Buffer);
    out.add(message, done);
  }

  writeShared(push: SharedPush, protocol: ThriftProtocol, done: () => void): void {
    if (this.socket.destroyed) return done();
    this.gathered().add(push.framed(protocol), done);
  }

  /** CoalescedSink: the turn's gathered bytes, in one socket write */
  flush(bytes: Buffer, written: () => void): void {
    if (this.socket.destroyed) written();
    else this.socket.write(bytes, written);
  }

  bufferedBytes(): number {
    return this.socket.writableLength + (this.out?.pendingBytes ?? 0);
  }

  /** made on the first write: an idle connection gathers nothing */
  private gathered(): Coalescer {
    return (this.out ??= new Coalescer(this));
  }

  close(_reason: string, flush?: boolean): void {
    const { socket } = this;
    if (!flush) {
      this.out?.discard();
      socket.destroy();
      return;
    }
    // what this turn gathered goes first; end() sends what is queued, then FIN; a peer that never reads is destroyed
    this.out?.flush();
    socket.end();
    setTimeout(() => socket.destroy(), 1000).unref();
  }

  received(data: Buffer): void {
    const input = this.input;
    if (!input) return;
    let frames: Buffer[];
    try {
      frames = (this.decoder ??= new FrameDecoder(this.context.maxFrame)).push(data);
    } catch (err) {
      this.context.logger.debug({ err: (err as Error).message, remote: this.remote }, 'bad frame: closing');
      this.socket.destroy();
      input.closed();
      return;
    }
    for (const f of frames) input.message(f);
  }
}

function onSocketError(this: Socket): void {
  this.destroy();
}

function onSocketData(this: TaggedSocket, data: Buffer): void {
  this[CONNECTION]?.received(data);
}

function onSocketClose(this: TaggedSocket): void {
  this[CONNECTION]?.input?.closed();
}

export async function listenTcp(opts: {
  host: string;
  port: number;
  maxFrame: number;
  logger: Logger;
  handlers: TcpHandlers;
  /** TLS instead of plain TCP */
  tls?: TlsCredentials;
  /** TLS only: the handshake must be over within this; default 10 000 ms */
  handshakeTimeoutMs?: number;
}): Promise<{ server: Server; endpoint: string }> {
  const transport = opts.tls ? 'tls' : 'tcp';
  const context: ListenerContext = { maxFrame: opts.maxFrame, logger: opts.logger };
  const serve = (socket: TaggedSocket): void => {
    socket.on('error', onSocketError);
    const wire = new TcpConnection(socket, socket.remoteAddress ?? 'unknown', transport, context);
    const input = opts.handlers.open(wire);
    if (!input) {
      socket.destroy();
      return;
    }
    wire.input = input;
    socket[CONNECTION] = wire;
    socket.on('data', onSocketData);
    socket.on('close', onSocketClose);
  };
  let server: Server;
  if (opts.tls) {
    const tlsServer = createTlsServer(
      {
        ...opts.tls.secureOptions(),
        handshakeTimeout: opts.handshakeTimeoutMs ?? 10_000,
        noDelay: true,
        keepAlive: true,
      },
      serve,
    );
    // A failed or too-slow handshake; nothing reached the broker. Node only reports it: the
    // socket stays open unless destroyed here (a client that never speaks would stay forever).
    tlsServer.on('tlsClientError', (err, socket) => {
      opts.logger.debug({ err: err.message, remote: socket.remoteAddress }, 'tls handshake failed');
      socket.destroy();
    });
    opts.tls.use(tlsServer);
    server = tlsServer;
  } else {
    server = createServer({ noDelay: true, keepAlive: true }, serve);
  }
  server.on('error', (err) => opts.logger.error({ err, transport }, 'tcp listener error'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  return { server, endpoint: `${opts.host}:${(server.address() as AddressInfo).port}` };
}
