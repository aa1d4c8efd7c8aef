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
import { Coalescer } from './coalesce';
import { FrameDecoder, frameOf } from './framing';
import type { Wire } from './client-conn';
import type { TlsCredentials } from './tls';

export interface TcpHandlers {
  /** a new connection passed admission; returns the callbacks for its messages */
  open(wire: Wire): { message(bytes: Buffer): void; closed(): void } | undefined;
}

function tcpWire(socket: Socket, remote: string, transport: 'tcp' | 'tls'): Wire {
  const out = new Coalescer({
    flush: (bytes, written) => {
      if (socket.destroyed) written();
      else socket.write(bytes, written);
    },
  });
  return {
    transport,
    remote,
    write(message, done) {
      if (socket.destroyed) return done();
      const [len] = frameOf(message);
      out.add(len as Buffer);
      out.add(message, done);
    },
    writeShared(push, protocol, done) {
      if (socket.destroyed) return done();
      out.add(push.framed(protocol), done);
    },
    bufferedBytes: () => socket.writableLength + out.pendingBytes,
    close: (_reason, flush) => {
      if (!flush) {
        out.discard();
        socket.destroy();
        return;
      }
      // what this turn gathered goes first; end() sends what is queued, then FIN; a peer that never reads is destroyed
      out.flush();
      socket.end();
      setTimeout(() => socket.destroy(), 1000).unref();
    },
  };
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
  const serve = (socket: Socket): void => {
    socket.on('error', () => socket.destroy());
    const remote = socket.remoteAddress ?? 'unknown';
    const conn = opts.handlers.open(tcpWire(socket, remote, transport));
    if (!conn) {
      socket.destroy();
      return;
    }
    const decoder = new FrameDecoder(opts.maxFrame);
    socket.on('data', (data: Buffer) => {
      let frames: Buffer[];
      try {
        frames = decoder.push(data);
      } catch (err) {
        opts.logger.debug({ err: (err as Error).message, remote }, 'bad frame: closing');
        socket.destroy();
        conn.closed();
        return;
      }
      for (const f of frames) conn.message(f);
    });
    socket.on('close', () => conn.closed());
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
