/**
 * Chunked publish (felix-ts extension): a payload above FELIX_PUBLISH_CHUNK_BYTES travels as a run of
 * `publish_chunk` messages so it does not hold up the other frames of its stream, and the broker puts
 * it back together.
 */
import { copyBytes } from './bytes.js';
import { WireError } from './errors.js';
import type { AckMode, PublishChunkMessage, PublishMessage } from './messages.js';

/**
 * Splits a publish into chunks of at most `chunkBytes` payload bytes. Chunk payloads are views into
 * `publish.payload`; `request_id` and `ack` (and `producer_id`/`sequence`) ride on the first chunk only.
 */
export function splitPublish(
  publish: PublishMessage,
  chunkBytes: number,
  publishId: number,
): PublishChunkMessage[] {
  if (!Number.isInteger(chunkBytes) || chunkBytes < 1) {
    throw new RangeError(`chunkBytes must be a positive integer, got ${chunkBytes}`);
  }
  const total = publish.payload.byteLength;
  const chunks: PublishChunkMessage[] = [];
  let offset = 0;
  do {
    const end = Math.min(total, offset + chunkBytes);
    const chunk: PublishChunkMessage = {
      type: 'publish_chunk',
      tenant_id: publish.tenant_id,
      namespace: publish.namespace,
      stream: publish.stream,
      publish_id: publishId,
      total_len: total,
      byte_offset: offset,
      payload: publish.payload.subarray(offset, end),
    };
    if (offset === 0) {
      if (publish.request_id !== undefined) chunk.request_id = publish.request_id;
      if (publish.ack !== undefined) chunk.ack = publish.ack;
      if (publish.producer_id !== undefined) {
        chunk.producer_id = publish.producer_id;
        chunk.sequence = publish.sequence;
      }
    }
    chunks.push(chunk);
    offset = end;
  } while (offset < total);
  return chunks;
}

export interface PublishChunkAssemblerOptions {
  /** Largest reassembled payload accepted; a first chunk announcing more is refused unbuffered. */
  maxPayloadBytes: number;
  /** Most chunked publishes in progress at once on one stream. Default 16. */
  maxPendingPublishes?: number;
}

interface PendingPublish {
  tenant_id: string;
  namespace: string;
  stream: string;
  total_len: number;
  received: number;
  parts: Buffer[];
  request_id?: number;
  ack?: AckMode;
  producer_id?: number;
  sequence?: number;
}

/**
 * Reassembles chunked publishes arriving on one stream (one assembler per stream). Memory held is what
 * has actually arrived, never what a chunk announces, and is bounded by maxPayloadBytes ×
 * maxPendingPublishes.
 */
export class PublishChunkAssembler {
  private readonly maxPayloadBytes: number;
  private readonly maxPendingPublishes: number;
  private readonly pending = new Map<number, PendingPublish>();

  constructor(options: PublishChunkAssemblerOptions) {
    this.maxPayloadBytes = options.maxPayloadBytes;
    this.maxPendingPublishes = options.maxPendingPublishes ?? 16;
  }

  get pendingPublishes(): number {
    return this.pending.size;
  }

  /** The most publishes in progress at once (maxPendingPublishes). */
  get maxPending(): number {
    return this.maxPendingPublishes;
  }

  /** Whether no other publish may start until one in progress completes or is dropped. */
  get full(): boolean {
    return this.pending.size >= this.maxPendingPublishes;
  }

  /** Whether a publish with this id is being reassembled. */
  inProgress(publishId: number): boolean {
    return this.pending.has(publishId);
  }

  /**
   * Drops the publish in progress under `publishId` (a new first piece reuses its id), returning what its
   * answer needs: the request it named on its first piece and whether it asked for an ack.
   */
  abandon(publishId: number): { requestId: number | undefined; ackRequested: boolean } | undefined {
    const publish = this.pending.get(publishId);
    if (publish === undefined) return undefined;
    this.pending.delete(publishId);
    return { requestId: publish.request_id, ackRequested: acks(publish.ack) };
  }

  /** Payload bytes the publishes in progress hold (what has arrived of them, summed). */
  get heldBytes(): number {
    let held = 0;
    for (const p of this.pending.values()) held += p.received;
    return held;
  }

  /**
   * Takes the next chunk (its payload is copied, so it may be a transient view). Returns the complete
   * publish when this chunk was its last, otherwise undefined. A chunk that breaks the sequence throws a
   * WireError naming the publish's request_id, and that publish is dropped.
   */
  accept(chunk: PublishChunkMessage): PublishMessage | undefined {
    let publish = this.pending.get(chunk.publish_id);
    if (chunk.byte_offset + chunk.payload.byteLength > chunk.total_len) {
      // The publish this piece belongs to is dropped, and answered for under its own request id.
      this.pending.delete(chunk.publish_id);
      throw new WireError('malformed', `publish_chunk ${chunk.publish_id} runs past its total_len`, {
        requestId: publish?.request_id ?? chunk.request_id,
        ackRequested: publish?.request_id !== undefined ? acks(publish.ack) : acks(chunk.ack),
      });
    }
    if (publish === undefined) {
      publish = this.start(chunk);
    } else if (!continues(publish, chunk)) {
      this.pending.delete(chunk.publish_id);
      throw new WireError('malformed', `publish_chunk ${chunk.publish_id} does not continue its publish`, {
        // The publish's own id (from its first piece), else the id this piece names.
        requestId: publish.request_id ?? chunk.request_id,
        ackRequested: publish.request_id !== undefined ? acks(publish.ack) : acks(chunk.ack),
      });
    }
    if (chunk.payload.byteLength > 0) publish.parts.push(copyBytes(chunk.payload));
    publish.received += chunk.payload.byteLength;
    if (publish.received < publish.total_len) return undefined;
    this.pending.delete(chunk.publish_id);
    return assembled(publish);
  }

  /** Drops every publish in progress (the stream closed). */
  clear(): void {
    this.pending.clear();
  }

  private start(chunk: PublishChunkMessage): PendingPublish {
    const requestId = chunk.request_id;
    const ackRequested = acks(chunk.ack);
    if (chunk.byte_offset !== 0) {
      throw new WireError(
        'malformed',
        `publish_chunk ${chunk.publish_id} starts at ${chunk.byte_offset}, not 0`,
        {
          requestId,
          ackRequested,
        },
      );
    }
    if (chunk.total_len > this.maxPayloadBytes) {
      throw new WireError(
        'frame_too_large',
        `chunked publish of ${chunk.total_len} bytes exceeds the ${this.maxPayloadBytes}-byte limit`,
        { requestId, ackRequested },
      );
    }
    if (this.pending.size >= this.maxPendingPublishes) {
      throw new WireError(
        'malformed',
        `more than ${this.maxPendingPublishes} chunked publishes in progress`,
        {
          requestId,
          ackRequested,
        },
      );
    }
    const publish: PendingPublish = {
      tenant_id: chunk.tenant_id,
      namespace: chunk.namespace,
      stream: chunk.stream,
      total_len: chunk.total_len,
      received: 0,
      parts: [],
    };
    if (requestId !== undefined) publish.request_id = requestId;
    if (chunk.ack !== undefined) publish.ack = chunk.ack;
    if (chunk.producer_id !== undefined) {
      publish.producer_id = chunk.producer_id;
      publish.sequence = chunk.sequence;
    }
    this.pending.set(chunk.publish_id, publish);
    return publish;
  }
}

function continues(publish: PendingPublish, chunk: PublishChunkMessage): boolean {
  return (
    chunk.byte_offset === publish.received &&
    chunk.total_len === publish.total_len &&
    chunk.tenant_id === publish.tenant_id &&
    chunk.namespace === publish.namespace &&
    chunk.stream === publish.stream &&
    (chunk.request_id === undefined || chunk.request_id === publish.request_id) &&
    (chunk.ack === undefined || chunk.ack === publish.ack) &&
    (chunk.producer_id === undefined || chunk.producer_id === publish.producer_id) &&
    (chunk.sequence === undefined || chunk.sequence === publish.sequence)
  );
}

function assembled(publish: PendingPublish): PublishMessage {
  const message: PublishMessage = {
    type: 'publish',
    tenant_id: publish.tenant_id,
    namespace: publish.namespace,
    stream: publish.stream,
    payload: publish.parts.length === 1 ? publish.parts[0] : Buffer.concat(publish.parts, publish.total_len),
  };
  if (publish.request_id !== undefined) message.request_id = publish.request_id;
  if (publish.ack !== undefined) message.ack = publish.ack;
  if (publish.producer_id !== undefined) {
    message.producer_id = publish.producer_id;
    message.sequence = publish.sequence;
  }
  return message;
}

function acks(ack: AckMode | undefined): boolean {
  return ack === 'per_message' || ack === 'per_batch';
}
