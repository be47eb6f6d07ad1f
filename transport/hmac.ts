// HMAC-SHA256 (RFC 2104) as two one-shot hashes (crypto.hash): no native object per call. The endpoint
// computes one for datagrams from anyone (Initial keys, Retry tokens, reset tokens); createHmac would leave
// a native context per datagram for the garbage collector, which V8 does not see as memory pressure, so
// under a flood they pile up as process memory the heap never accounts for.
import { hash } from 'node:crypto';

const BLOCK = 64;
const DIGEST = 32;
let inner = Buffer.alloc(BLOCK + 256);
const outer = Buffer.alloc(BLOCK + DIGEST);

/** HMAC-SHA256 of the concatenated `parts` under `key`. */
export function hmacSha256(key: Uint8Array, ...parts: readonly (Uint8Array | string)[]): Buffer {
  const k = key.length > BLOCK ? hash('sha256', key, 'buffer') : key;
  let length = BLOCK;
  for (const p of parts) length += typeof p === 'string' ? Buffer.byteLength(p) : p.length;
  if (inner.length < length) inner = Buffer.alloc(length * 2);
  for (let i = 0; i < BLOCK; i++) {
    const b = i < k.length ? k[i]! : 0;
    inner[i] = b ^ 0x36;
    outer[i] = b ^ 0x5c;
  }
  let at = BLOCK;
  for (const p of parts) {
    if (typeof p === 'string') at += inner.write(p, at);
    else {
      inner.set(p, at);
      at += p.length;
    }
  }
  hash('sha256', inner.subarray(0, at), 'buffer').copy(outer, BLOCK);
  return hash('sha256', outer, 'buffer');
}
