// Our connection IDs, and the endpoint's routing table they index, as seen by the two modules that create
// connections into it: a server's InitialAcceptor and a client's ClientDialer.
import { randomFillSync } from 'node:crypto';
import type { Connection, ConnectionDriver } from './connection.js';
import type { CloseInfo } from './errors.js';
import { DCID_OFFSET } from './long-header.js';
import type { HostPort } from './native.js';

/**
 * Our source connection IDs are [u32 routing slot][12 random bytes]: the slot routes a short-header
 * packet with one array index, the random words reject stale or forged IDs without a map lookup.
 */
export const CID_LEN = 16;

/** The endpoint's side of a new connection: the slot it routes by, and its forgetting. */
export interface ConnectionTable {
  /** What every connection of the endpoint reports its writes to (the endpoint itself). */
  readonly driver: ConnectionDriver;
  /** The bound (server) or connected (client) local address: quiche needs the same one on every packet. */
  readonly local: HostPort;
  allocateSlot(): number;
  /** Gives back a slot whose connection was never adopted. */
  freeSlot(slot: number): void;
  /** From now the connection's packets route to it: by its slot, and by its originalDcid or retryCid. */
  adopt(conn: Connection): void;
  /** Forgets a connection, its application told `info` first (an onClose that throws is rethrown). */
  finalize(conn: Connection, info: CloseInfo): void;
}

export function makeCid(slot: number): Buffer {
  const cid = randomFillSync(Buffer.allocUnsafe(CID_LEN));
  cid.writeUInt32BE(slot, 0);
  return cid;
}

export function cidWords(cid: Buffer): [number, number, number] {
  return [cid.readUInt32BE(4), cid.readUInt32BE(8), cid.readUInt32BE(12)];
}

/** Map key for a client's original DCID: one char per byte, cheaper than hex. */
export function originalDcidKey(msg: Buffer, dcidLen: number): string {
  return msg.toString('latin1', DCID_OFFSET, DCID_OFFSET + dcidLen);
}
