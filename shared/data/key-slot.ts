/**
 * Redis Cluster's key placement: a key belongs to hash slot CRC16(key) mod 16384 (CRC-16/XMODEM),
 * computed on its `{tag}` when it has a non-empty one. Pure, so placement rules can be checked
 * without a server: every key of one multi-key command or script must be in one slot.
 */
import { NoonError } from '../errors';
import { hashTag } from './hash-ring';

export const SLOT_COUNT = 16384;

const TABLE = ((): Uint16Array => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let b = 0; b < 8; b++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    t[i] = crc;
  }
  return t;
})();

/** CRC-16/XMODEM (polynomial 0x1021, initial 0) of the UTF-8 bytes of text. */
export function crc16(text: string): number {
  let crc = 0;
  for (const byte of Buffer.from(text, 'utf8')) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ byte) & 0xff]!;
  return crc;
}

/** The hash slot Redis Cluster puts key in. */
export function keySlot(key: string): number {
  return crc16(hashTag(key)) % SLOT_COUNT;
}

/** The one slot all keys share, or undefined when they span several (Redis would answer CROSSSLOT). */
export function commonSlot(keys: readonly string[]): number | undefined {
  const slots = new Set(keys.map(keySlot));
  return slots.size === 1 ? [...slots][0] : undefined;
}

/** The slot of one operation's keys; refuses keys that span slots before anything is sent. */
export function operationSlot(keys: readonly string[]): number {
  const slot = commonSlot(keys);
  if (slot !== undefined) return slot;
  const where = keys.map((k) => `${k} (slot ${keySlot(k)})`).join(', ');
  throw new NoonError(
    'INTERNAL',
    `keys of one operation are in different hash slots: ${where}; give them one {tag}`,
    false,
  );
}
