/**
 * Where each slot of the chaos cluster runs when it runs on several hosts (network namespaces,
 * chaos/netns.ts): the Yellows and the BrokerList on the first host, the brokers on the second,
 * and each service's instance #i on host 3 + i, so cutting one service host off takes one
 * instance of every service away and leaves the other instance of each. Pure.
 */
import { CLUSTER_SIZE, type ClusterRole } from './scenarios';

/** Hosts the cluster needs: one for discovery, one for the brokers, one per service instance index. */
export const HOST_COUNT = 2 + CLUSTER_SIZE.player;

/** The partition drill cuts off the host of every service's instance #1. */
export const PARTITIONED_SERVICE_INDEX = 1;

/** Index (0-based) into the network's hosts of the host that runs the slot. */
export function hostIndexOf(slot: { role: ClusterRole; index: number }): number {
  if (slot.role === 'yellow' || slot.role === 'brokerlist') return 0;
  if (slot.role === 'broker') return 1;
  return 2 + slot.index;
}

/** What each host runs, as text for the log: `h1: yellow#0 yellow#1 brokerlist#0`. */
export function placementText(slots: ReadonlyArray<{ role: ClusterRole; index: number }>): string[] {
  const by = new Map<number, string[]>();
  for (const s of slots) by.set(hostIndexOf(s), [...(by.get(hostIndexOf(s)) ?? []), `${s.role}#${s.index}`]);
  return [...by.entries()].sort((a, b) => a[0] - b[0]).map(([h, names]) => `h${h + 1}: ${names.join(' ')}`);
}
