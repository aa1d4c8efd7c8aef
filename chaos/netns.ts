/**
 * Several hosts on one machine: each host is a network namespace with one address on a private
 * /24, all joined by a bridge in the root namespace that has an address of its own (the tool's
 * own process, Postgres and Redis are reached through it). A host can be partitioned with
 * nftables inside its namespace (everything on its interface dropped) and healed by deleting
 * that table. Every name starts with the prefix, so a run first removes what a crashed run left,
 * and destroy() removes everything made here.
 *
 *   root ns:  <prefix>-br 10.77.0.1/24 ── <prefix>-vN ══ eth0 10.77.0.(10+N)/24 in <prefix>-hN
 */
import { execFile } from 'node:child_process';

export interface NetHost {
  /** h1, h2, … */
  name: string;
  /** the network namespace */
  ns: string;
  /** its address on the bridge */
  address: string;
}

export interface NetworkOptions {
  hosts: number;
  /** names of namespaces, links and tables; default 'noonmh' (at most 8 characters: link names are short) */
  prefix?: string;
  /** the first three octets of the /24; default 10.77.0 */
  subnet?: string;
}

/** The table a partition adds in the host's namespace (nft names take no dashes). */
const PARTITION_TABLE = 'noon_partition';

export function run(cmd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: 15_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/**
 * Throws, naming what is missing, unless this process can build the network: root, `ip` and
 * `nft`. `what` names who needs it (a test, the partition drill) for the message.
 */
export async function requireNetworkTools(what = 'a multi-host network'): Promise<void> {
  if (process.getuid?.() !== 0)
    throw new Error(`${what} needs root for network namespaces (running as uid ${process.getuid?.()})`);
  await run('ip', ['-V']).catch(() => {
    throw new Error(`${what} needs \`ip\` (Debian package iproute2)`);
  });
  await run('nft', ['--version']).catch(() => {
    throw new Error(`${what} needs \`nft\` (Debian package nftables)`);
  });
}

export class HostNetwork {
  readonly hosts: NetHost[];
  /** the bridge's address in the root namespace: how hosts reach this process */
  readonly rootAddress: string;
  private readonly prefix: string;
  private readonly partitioned = new Set<NetHost>();

  protected constructor(opts: NetworkOptions) {
    this.prefix = opts.prefix ?? 'noonmh';
    if (!/^[a-z][a-z0-9]{0,7}$/.test(this.prefix)) throw new Error(`netns prefix ${this.prefix} is not 1-8 [a-z0-9]`);
    const subnet = opts.subnet ?? '10.77.0';
    this.rootAddress = `${subnet}.1`;
    this.hosts = Array.from({ length: opts.hosts }, (_, i) => ({
      name: `h${i + 1}`,
      ns: `${this.prefix}-h${i + 1}`,
      address: `${subnet}.${11 + i}`,
    }));
  }

  private get bridge(): string {
    return `${this.prefix}-br`;
  }

  /** Removes leftovers of this prefix, then builds the bridge and the hosts. */
  static async create(opts: NetworkOptions, what?: string): Promise<HostNetwork> {
    await requireNetworkTools(what);
    const net = new HostNetwork(opts);
    await net.setUp();
    return net;
  }

  /** Leftovers out, then the network in (removed again if building fails). */
  protected async setUp(): Promise<void> {
    await this.removeLeftovers();
    try {
      await this.build();
    } catch (err) {
      await this.destroy();
      throw err;
    }
  }

  private async build(): Promise<void> {
    await run('ip', ['link', 'add', this.bridge, 'type', 'bridge']);
    await run('ip', ['addr', 'add', `${this.rootAddress}/24`, 'dev', this.bridge]);
    await run('ip', ['link', 'set', this.bridge, 'up']);
    for (const [i, h] of this.hosts.entries()) {
      const outside = `${this.prefix}-v${i + 1}`;
      const inside = `${this.prefix}-p${i + 1}`;
      await run('ip', ['netns', 'add', h.ns]);
      await run('ip', ['link', 'add', outside, 'type', 'veth', 'peer', 'name', inside]);
      await run('ip', ['link', 'set', inside, 'netns', h.ns]);
      await run('ip', ['-n', h.ns, 'link', 'set', inside, 'name', 'eth0']);
      await run('ip', ['-n', h.ns, 'addr', 'add', `${h.address}/24`, 'dev', 'eth0']);
      await run('ip', ['-n', h.ns, 'link', 'set', 'eth0', 'up']);
      await run('ip', ['-n', h.ns, 'link', 'set', 'lo', 'up']);
      await run('ip', ['link', 'set', outside, 'master', this.bridge]);
      await run('ip', ['link', 'set', outside, 'up']);
    }
  }

  /**
   * Namespaces and links of this prefix from a run that did not clean up. Processes still
   * inside such a namespace were started by that run; they are ended by pid before it goes.
   */
  private async removeLeftovers(): Promise<void> {
    const namespaces = (await run('ip', ['netns', 'list']))
      .split('\n')
      .map((l) => l.split(' ')[0] ?? '')
      .filter((n) => n.startsWith(`${this.prefix}-`));
    for (const ns of namespaces) {
      const pids = (await run('ip', ['netns', 'pids', ns]).catch(() => '')).split('\n').filter((p) => /^\d+$/.test(p));
      for (const pid of pids) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await run('ip', ['netns', 'del', ns]).catch(() => undefined);
    }
    const links = (await run('ip', ['-o', 'link', 'show']))
      .split('\n')
      .map((l) => l.match(/^\d+:\s+([^:@\s]+)/)?.[1] ?? '')
      .filter((n) => n.startsWith(`${this.prefix}-`));
    for (const link of links) await run('ip', ['link', 'del', link]).catch(() => undefined);
  }

  /** The command prefix that runs a program inside the host (`ip netns exec` execs it: the pid is the program's). */
  wrap(host: NetHost): string[] {
    return ['ip', 'netns', 'exec', host.ns];
  }

  /** Drops every packet in or out of the host's interface: it can reach no other host, nor the root namespace. */
  async partition(host: NetHost): Promise<void> {
    const rules = [
      `table inet ${PARTITION_TABLE} {`,
      '  chain in { type filter hook input priority 0; policy accept; iifname "eth0" drop; }',
      '  chain out { type filter hook output priority 0; policy accept; oifname "eth0" drop; }',
      '}',
      '',
    ].join('\n');
    await run('ip', ['netns', 'exec', host.ns, 'nft', '-f', '-'], rules);
    this.partitioned.add(host);
  }

  async heal(host: NetHost): Promise<void> {
    await run('ip', ['netns', 'exec', host.ns, 'nft', 'delete', 'table', 'inet', PARTITION_TABLE]);
    this.partitioned.delete(host);
  }

  /** Heals, then deletes the namespaces and links (their tables go with them). */
  async destroy(): Promise<void> {
    for (const h of [...this.partitioned]) await this.heal(h).catch(() => undefined);
    await this.removeLeftovers();
  }
}
