/**
 * Consistent hashing with virtual nodes: each node owns `vnodes` points on a 32-bit ring and a key
 * belongs to the first point at or after its hash. Adding an (N+1)th node takes about 1/(N+1) of
 * the keys, only from the others; removing one moves only its own keys. Pure and deterministic:
 * every process with the same node list computes the same placement.
 */

import { hash32 } from '../hashing';

export { hash32 };

/**
 * The part of a key that is hashed: the text inside the first `{...}` when non-empty (Redis
 * Cluster's hash-tag rule), so `room:{r1}:history` and `room:{r1}:members` land together.
 */
export function hashTag(key: string): string {
  const open = key.indexOf('{');
  if (open < 0) return key;
  const close = key.indexOf('}', open + 1);
  if (close <= open + 1) return key;
  return key.slice(open + 1, close);
}

export class HashRing {
  private readonly nodes = new Set<string>();
  /** Sorted ring points and, at the same index, the node owning each. */
  private points: number[] = [];
  private owners: string[] = [];

  constructor(
    nodes: Iterable<string> = [],
    private readonly vnodes = 160,
  ) {
    if (!Number.isInteger(vnodes) || vnodes < 1)
      throw new RangeError(`vnodes must be a positive integer, got ${vnodes}`);
    for (const n of nodes) this.nodes.add(n);
    this.rebuild();
  }

  add(node: string): void {
    if (this.nodes.has(node)) return;
    this.nodes.add(node);
    this.rebuild();
  }

  remove(node: string): void {
    if (!this.nodes.delete(node)) return;
    this.rebuild();
  }

  has(node: string): boolean {
    return this.nodes.has(node);
  }

  get size(): number {
    return this.nodes.size;
  }

  list(): string[] {
    return [...this.nodes].sort();
  }

  /** The node owning key (hashed on its `{tag}` if any); throws on an empty ring. */
  nodeFor(key: string): string {
    if (this.points.length === 0) throw new Error('hash ring has no nodes');
    const h = hash32(hashTag(key));
    let lo = 0;
    let hi = this.points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.points[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    return this.owners[lo === this.points.length ? 0 : lo]!;
  }

  /** Rebuilt from the node set, so placement never depends on the order nodes were added. */
  private rebuild(): void {
    const entries: { point: number; node: string }[] = [];
    for (const node of this.nodes) {
      for (let i = 0; i < this.vnodes; i++) entries.push({ point: hash32(`${node}#${i}`), node });
    }
    // Ties (two vnodes on one point) are broken by node name so every process agrees.
    entries.sort((a, b) => a.point - b.point || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
    this.points = entries.map((e) => e.point);
    this.owners = entries.map((e) => e.node);
  }
}
