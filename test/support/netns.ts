/**
 * Several hosts on one machine for tests: the network of chaos/netns.ts (a namespace per host on
 * one bridge, nftables partitions), plus what only tests need: `node` started inside a host as a
 * TestProcess, and forwarders on the bridge address to servers that listen on loopback only.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { HostNetwork, requireNetworkTools as require, type NetHost, type NetworkOptions } from '../../chaos/netns';
import { TestProcess } from './process';

export type { NetHost, NetworkOptions };

/**
 * Throws, naming what is missing, unless this process can build the network: root, `ip` and
 * `nft`. A test calls it in `before`, so a machine without them fails the test (never skips it).
 */
export function requireNetworkTools(): Promise<void> {
  return require('the multi-host test');
}

export class TestNetwork extends HostNetwork {
  private readonly forwarders: Server[] = [];
  private readonly forwarded = new Set<Socket>();

  /** Removes leftovers of this prefix, then builds the bridge and the hosts. */
  static override async create(opts: NetworkOptions): Promise<TestNetwork> {
    await requireNetworkTools();
    const net = new TestNetwork(opts);
    await net.setUp();
    return net;
  }

  /** `node <argv>` inside the host's namespace (ip netns exec execs node: the pid is node's). */
  spawn(host: NetHost, argv: string[], env: NodeJS.ProcessEnv, name: string): TestProcess {
    return new TestProcess(argv, env, `${host.name}: ${name}`, { wrap: this.wrap(host) });
  }

  /**
   * Serves `listenPort` on the bridge address by forwarding each connection to
   * 127.0.0.1:`targetPort` (Postgres and Redis listen on loopback only).
   */
  async forward(listenPort: number, targetPort: number): Promise<void> {
    const server = createServer((inbound) => {
      const outbound = connect({ host: '127.0.0.1', port: targetPort });
      for (const s of [inbound, outbound]) {
        this.forwarded.add(s);
        s.on('close', () => this.forwarded.delete(s));
        s.on('error', () => {
          inbound.destroy();
          outbound.destroy();
        });
      }
      inbound.pipe(outbound);
      outbound.pipe(inbound);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listenPort, this.rootAddress, () => resolve());
    });
    this.forwarders.push(server);
  }

  /** Stops the forwarders, then heals and deletes the namespaces and links. */
  override async destroy(): Promise<void> {
    for (const s of this.forwarded) s.destroy();
    await Promise.all(this.forwarders.map((f) => new Promise<void>((resolve) => f.close(() => resolve()))));
    this.forwarders.length = 0;
    await super.destroy();
  }
}
