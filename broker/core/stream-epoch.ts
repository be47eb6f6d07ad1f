import { randomBytes } from 'node:crypto';

/**
 * A new stream epoch: the id of one incarnation of a stream, so an offset is only ever read together with
 * the history it counts. Random, non-zero, below 2^53 (a u64 every JSON peer reads exactly). An in-memory
 * stream gets a new one each time the broker creates it, i.e. on every broker start.
 */
export function newStreamEpoch(): number {
  const bytes = randomBytes(8);
  const epoch = (bytes.readUInt32BE(0) & 0x1f_ffff) * 0x1_0000_0000 + bytes.readUInt32BE(4);
  return epoch === 0 ? 1 : epoch;
}
