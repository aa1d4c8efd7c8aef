/**
 * Rendezvous (highest-random-weight) hashing: every broker and service picks the same owner for
 * a key from the same live set without talking, and losing one candidate moves only its keys.
 */
/**
 * FNV-1a over UTF-16 code units, then murmur3's finaliser, because plain FNV-1a clusters on
 * similar strings like "node#1", "node#2". Shared by rendezvous hashing and the Redis hash ring.
 */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return mix(h);
}

/** murmur3's finaliser. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function rendezvousWeight(key: string, candidate: string): number {
  return mix(hash32(candidate) ^ hash32(key));
}

/** The owner of `key` among `candidates` (ties broken by name, so the answer is total). */
export function rendezvous(key: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestWeight = -1;
  for (const c of candidates) {
    const w = rendezvousWeight(key, c);
    if (w > bestWeight || (w === bestWeight && best !== undefined && c < best)) {
      best = c;
      bestWeight = w;
    }
  }
  return best;
}
