/**
 * A TCP proxy a test points a client at, to move it between brokers: `cut()` ends every proxied
 * connection and refuses new ones (the client is disconnected and cannot come back), `to(target)`
 * forwards new connections to another broker.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface SwitchProxy {
  endpoint: string;
  /** ends every connection; new ones are refused until to() */
  cut(): void;
  /** new connections go to `target` (host:port) */
  to(target: string): void;
  close(): Promise<void>;
}

export async function startSwitchProxy(target: string): Promise<SwitchProxy> {
  let current: string | undefined = target;
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => undefined);
    if (current === undefined) {
      client.destroy();
      return;
    }
    const [host, port] = current.split(':');
    const upstream = connect(Number(port), host as string);
    open.add(upstream);
    upstream.on('close', () => {
      open.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    cut: () => {
      current = undefined;
      for (const s of [...open]) s.destroy();
    },
    to: (t) => {
      current = t;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of [...open]) s.destroy();
        server.close(() => resolve());
      }),
  };
}
