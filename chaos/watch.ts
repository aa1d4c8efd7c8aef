/**
 * What Yellow says about the cluster, as a watching consumer sees it: every `down` event (a false
 * death is one the tool did not cause), and whether every process of the tool is registered,
 * live and not draining.
 */
import { internalKeysFor } from '../shared/internal-keys';
import { loadConfig } from '../shared/config';
import { silentLogger } from '../shared/log';
import { YellowClient } from '../yellow/client';
import type { Directory } from '../yellow/directory';
import type { Death } from './tally';

export class YellowWatch {
  readonly deaths: Death[] = [];
  private constructor(
    private readonly client: YellowClient,
    readonly directory: Directory,
  ) {}

  /** Watches `yellow` with the operator key from `keyDir` (the cluster's CURVE keys). */
  static async open(yellow: string[], keyDir: string, heartbeatMs: number): Promise<YellowWatch> {
    const cfg = loadConfig({ yellow, heartbeatMs, internalKeys: keyDir });
    const curve = internalKeysFor(cfg, 'operator');
    const client = YellowClient.fromConfig(cfg, silentLogger(), {
      queryTimeoutMs: Math.max(2000, heartbeatMs * 2),
      ...(curve ? { curve } : {}),
    });
    const dir = await client.watch();
    const w = new YellowWatch(client, dir);
    dir.on('down', (d) => w.deaths.push({ instanceId: d.instanceId, role: d.role, at: Date.now() }));
    return w;
  }

  /** True when each id is registered, live and not draining. */
  serving(instanceIds: readonly string[]): boolean {
    const live = new Set(this.directory.instances().map((r) => r.instanceId));
    return instanceIds.every((id) => live.has(id));
  }

  /** When `instanceId` was last declared down at or after `since`, if it was. */
  downAt(instanceId: string, since: number): number | undefined {
    return this.deaths.find((d) => d.instanceId === instanceId && d.at >= since)?.at;
  }

  stop(): Promise<void> {
    return this.client.stop();
  }
}
