/**
 * Frames the wire encoders refuse to build: broken headers, binary publish batches with lying counts and
 * lengths, integers JSON.stringify cannot write. Hand-built, byte by byte, as a hostile peer would.
 */
import { HEADER_BYTES, MAGIC, writeFrameHeader } from '../wire/index.js';

/** A header with any magic, version, flags and length (the payload is not included). */
export function rawHeader(fields: {
  magic?: number;
  version?: number;
  flags?: number;
  length: number;
}): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  writeFrameHeader(header, 0, fields.flags ?? 0, fields.length);
  header.writeUInt32BE(fields.magic ?? MAGIC, 0);
  header.writeUInt16BE(fields.version ?? 1, 4);
  return header;
}

export interface RawBatch {
  /** The 9-byte prefix of an acked batch (flags 0x09). */
  readonly acked?: { readonly requestId: number; readonly ackByte: number };
  readonly tenant: string;
  readonly namespace: string;
  readonly stream: string;
  readonly payloads: readonly Buffer[];
  /** Written instead of payloads.length. */
  readonly count?: number;
  /** Written instead of the tenant's real byte length. */
  readonly tenantLength?: number;
  /** Appended after the last payload. */
  readonly trailing?: Buffer;
  /** Cut the body to this many bytes. */
  readonly truncateTo?: number;
}

/** The body of a binary publish batch (flags 0x01, or 0x09 with `acked`), broken as asked. */
export function rawBatchBody(batch: RawBatch): Buffer {
  const parts: Buffer[] = [];
  if (batch.acked !== undefined) {
    const prefix = Buffer.alloc(9);
    prefix.writeBigUInt64BE(BigInt(batch.acked.requestId), 0);
    prefix[8] = batch.acked.ackByte;
    parts.push(prefix);
  }
  parts.push(shortString(batch.tenant, batch.tenantLength));
  parts.push(shortString(batch.namespace));
  parts.push(shortString(batch.stream));
  const count = Buffer.alloc(4);
  count.writeUInt32BE(batch.count ?? batch.payloads.length, 0);
  parts.push(count);
  for (const p of batch.payloads) {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(p.length, 0);
    parts.push(length, p);
  }
  if (batch.trailing !== undefined) parts.push(batch.trailing);
  const body = Buffer.concat(parts);
  return batch.truncateTo === undefined ? body : body.subarray(0, batch.truncateTo);
}

function shortString(text: string, claimedLength?: number): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const out = Buffer.alloc(2 + bytes.length);
  out.writeUInt16BE(claimedLength ?? bytes.length, 0);
  bytes.copy(out, 2);
  return out;
}

/** A JSON text nesting `depth` arrays: `[[[…]]]`. */
export function nestedArrays(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}
