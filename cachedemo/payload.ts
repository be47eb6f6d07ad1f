/**
 * Values as Felix's cachedemo makes them (make_payload): xorshift-multiply bytes seeded by the payload
 * size, key index and operation index, so a read can be checked against what was written.
 */
const MASK_64 = (1n << 64n) - 1n;
const SEED = 0x9e37_79b9_7f4a_7c15n;
const MULTIPLIER = 0x2545_f491_4f6c_dd1dn;

export function makePayload(size: number, keyIndex: number, opIndex: number): Uint8Array {
  const value = new Uint8Array(size);
  let state = (BigInt(size) ^ (BigInt(keyIndex) << 32n) ^ BigInt(opIndex) ^ SEED) & MASK_64;
  for (let i = 0; i < size; i++) {
    state ^= state >> 12n;
    state = (state ^ (state << 25n)) & MASK_64;
    state ^= state >> 27n;
    state = (state * MULTIPLIER) & MASK_64;
    value[i] = Number(state & 0xffn);
  }
  return value;
}

/**
 * One value per key (operation index 0), made before measuring. Felix makes a fresh value for every put;
 * here that would measure BigInt arithmetic rather than the cache, so puts rewrite these instead.
 */
export function payloadsPerKey(size: number, keys: number): Uint8Array[] {
  const out = new Array<Uint8Array>(keys);
  for (let i = 0; i < keys; i++) out[i] = makePayload(size, i, 0);
  return out;
}
