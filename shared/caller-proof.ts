/**
 * Who sent a request, from its key. A ROUTER cannot tell which CURVE key sent a message (ZeroMQ
 * hands the peer's key to ZAP only, at connect time), so a request carries its sender's public
 * key and a proof: HMAC-SHA256, keyed by the X25519 secret the sender shares with the receiving
 * server's key, over the sender's key. Only the holder of the sender's secret (or of the
 * receiver's) can make it, and it travels only inside CURVE-encrypted connections to that
 * receiver, so a peer cannot learn another's proof to replay it. Both sides compute it once per
 * key pair.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { sharedSecret, type CurveKeys } from './curve';
import type { CallerProof } from './wire/frames';

const proofText = (callerKey: string): string => `noon-caller/1\n${callerKey}`;
/** 128 bits of the HMAC are plenty for a proof nobody sees. */
const PROOF_BYTES = 16;

function proofFor(secret: Buffer, callerKey: string): Buffer {
  return createHmac('sha256', secret).update(proofText(callerKey)).digest().subarray(0, PROOF_BYTES);
}

/** The sender side: its proof for each server key it sends to, computed once. */
export class CallerProofs {
  private readonly byServer = new Map<string, CallerProof>();

  constructor(private readonly keys: CurveKeys) {}

  for(serverKey: string): CallerProof {
    let p = this.byServer.get(serverKey);
    if (!p) {
      const proof = proofFor(sharedSecret(this.keys.secretKey, serverKey), this.keys.publicKey).toString('hex');
      p = { key: this.keys.publicKey, proof };
      this.byServer.set(serverKey, p);
    }
    return p;
  }
}

/** How long a key's role is trusted before the keyring is asked again (a retired key stops within it). */
const ROLE_RECHECK_MS = 1000;
/** Callers remembered; beyond it the oldest are forgotten (a flood of random keys costs one DH each). */
const MAX_CALLERS = 4096;

interface Known {
  expected: Buffer;
  role: string | undefined;
  checkedAt: number;
}

/** The receiver side: the role of the key that sent a request, or undefined when unproven. */
export class CallerVerifier {
  private readonly known = new Map<string, Known>();

  constructor(private readonly keys: CurveKeys) {}

  roleOf(caller: CallerProof | undefined, now = Date.now()): string | undefined {
    if (!caller) return undefined;
    let k = this.known.get(caller.key);
    if (!k) {
      let expected: Buffer;
      try {
        expected = proofFor(sharedSecret(this.keys.secretKey, caller.key), caller.key);
      } catch {
        return undefined; // not a key at all
      }
      k = { expected, role: this.keys.keyring.roleOf(caller.key), checkedAt: now };
      if (this.known.size >= MAX_CALLERS) this.known.delete(this.known.keys().next().value as string);
      this.known.set(caller.key, k);
    } else if (now - k.checkedAt > ROLE_RECHECK_MS) {
      k.role = this.keys.keyring.roleOf(caller.key);
      k.checkedAt = now;
    }
    const got = Buffer.from(caller.proof, 'hex');
    return got.length === k.expected.length && timingSafeEqual(got, k.expected) ? k.role : undefined;
  }
}
