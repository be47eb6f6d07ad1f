/**
 * publish() and publishBatch(): picks the worker (sharding), encodes once into the frame that is sent, and
 * registers the ack. Acked publishes are pipelined (many in flight per worker, each answer a Map lookup);
 * an unacknowledged publish allocates no promise unless it has to wait for room in its worker's queue.
 *
 * Idempotent publish: with a broker advertising IDEMPOTENT_PUBLISH every acked frame carries its worker's
 * producer id and the next sequence, and may be sent again after a reconnect (the broker acks a retry it
 * already accepted without appending it again). Without it, an acked publish in flight when its
 * connection is lost fails with `connection_closed` instead: sending it again could deliver it twice.
 */
import { shownName, shownPath } from '../config/shown-name.js';
import { allocateFrame, type AckMode, type FrameAllocator } from '../wire/index.js';
import { ackModeOf, batchPayloads, payloadBytes, type Payload } from './arguments.js';
import { BatchReply } from './batch-reply.js';
import { noop } from './deadline.js';
import { FelixError, toFelixError } from './errors.js';
import type { Negotiated } from './negotiation.js';
import { PendingReply, type Settleable } from './pending-requests.js';
import {
  checkBatchSizes,
  encodeChunkedPublish,
  encodePublishFrame,
  planBatch,
  type PublishTarget,
} from './publish-encoding.js';
import type { RequestStream } from './request-stream.js';
import { WorkerPicker, streamHash, type ShardingMode } from './sharding.js';
import type { WorkerPool } from './worker-pool.js';

/** A payload: bytes, or a string sent as UTF-8. */
export type { Payload } from './arguments.js';

export interface PublishOptions {
  /** Namespace of the stream; defaults to the client's `namespace` option. */
  namespace?: string;
  /**
   * `per_message` (publish's default) or `per_batch` (publishBatch's default): the promise resolves when
   * the broker has appended the events. `none`: it resolves once the publish is accepted by the client
   * (at once, unless the worker's queue is full) and a broker refusal is only reported to `onWarning`.
   */
  ack?: AckMode;
}

export interface PublisherOptions {
  readonly tenant: string;
  readonly namespace: string;
  readonly sharding: ShardingMode;
  /** FELIX_PUBLISH_CHUNK_BYTES, FELIX_PUBLISH_WHOLE_MAX_BYTES: bounded by each worker's frame limit. */
  readonly chunkBytes: number;
  readonly wholeMaxBytes: number;
  /** Bytes a frame's envelope may take besides its payloads (FRAME_ENVELOPE_RESERVE_BYTES). */
  readonly envelopeBytes: number;
  /** Where acked frames are made (the client's FrameRecycler: they come back when acked). */
  readonly allocate: FrameAllocator;
}

/** How a worker's publishes are cut, for the frame limit its broker announced (RequestStream.frameLimit). */
interface FrameLimits {
  readonly maxFrameBytes: number;
  readonly chunkBytes: number;
  /** Payloads above this go as chunked publishes (when the broker takes them); see wholePayloadLimit. */
  readonly wholeMaxBytes: number;
}

/**
 * The largest payload a publisher sends whole, from FELIX_PUBLISH_WHOLE_MAX_BYTES: never below the chunk
 * size (a payload that fits a batch frame is never chunked), nor above what a frame holds with its envelope.
 */
export function wholePayloadLimit(
  wholeMaxBytes: number,
  chunkBytes: number,
  maxFrameBytes: number,
  envelopeBytes: number,
): number {
  return Math.max(chunkBytes, Math.min(wholeMaxBytes, maxFrameBytes - envelopeBytes));
}

const RESOLVED: Promise<void> = Promise.resolve();
/** Resends after lost connections: a retried idempotent publish is suppressed by the broker. */
const IDEMPOTENT_RETRIES = Number.POSITIVE_INFINITY;

/** One part of a batch on the wire: a frame, or the chunks of one large payload. */
interface EncodedPart {
  readonly requestId: number | undefined;
  /** The payloads it carries: `start` to `end` (exclusive) of the batch. */
  readonly start: number;
  readonly end: number;
  readonly frame?: Buffer;
  readonly chunks?: Buffer[];
}

export class Publisher {
  private readonly picker: WorkerPicker;
  private readonly targets = new Map<string, Map<string, PublishTarget>>();
  /** IDEMPOTENT_PUBLISH: acked frames carry producer id and sequence, and are resent after a reconnect. */
  private readonly idempotent: boolean;
  private readonly retries: number;
  /** The limits of the frame limit seen last (workers normally share one: computed once). */
  private limits: FrameLimits | null = null;

  /** @internal FelixClient builds it once the broker said what it supports. */
  constructor(
    private readonly pool: WorkerPool,
    private readonly negotiated: Negotiated,
    private readonly options: PublisherOptions,
  ) {
    this.picker = new WorkerPicker(options.sharding, pool.size);
    this.idempotent = negotiated.idempotentPublish;
    this.retries = this.idempotent ? IDEMPOTENT_RETRIES : 0;
  }

  publish(stream: string, payload: Payload, options?: PublishOptions): Promise<void> {
    try {
      const target = this.target(options?.namespace ?? this.options.namespace, stream);
      const bytes = payloadBytes(payload);
      const ack = ackModeOf(options?.ack, 'per_message');
      const worker = this.pool.worker(this.picker.pick(target.hash));
      const limits = this.limitsOf(worker);
      if (bytes.byteLength > limits.wholeMaxBytes && this.negotiated.publishChunks) {
        return this.publishChunked(worker, target, bytes, ack === 'per_batch' ? 'per_message' : ack, limits);
      }
      const payloads = [bytes];
      if (ack === 'none') {
        const frame = encodePublishFrame(
          target,
          payloads,
          ack,
          undefined,
          this.negotiated,
          limits.maxFrameBytes,
        );
        return worker.send(frame, target) ?? RESOLVED;
      }
      const requestId = worker.nextRequestId();
      const mark = worker.sequenceMark;
      let frame: Buffer;
      try {
        frame = encodePublishFrame(
          target,
          payloads,
          ack,
          requestId,
          this.negotiated,
          limits.maxFrameBytes,
          this.idempotent ? worker.producerId : 0,
          this.idempotent ? worker.nextSequence() : 0,
          this.options.allocate,
        );
      } catch (error) {
        // Nothing was sent: the sequence is given to the next publish, so the broker sees no hole.
        worker.rewindSequences(mark);
        throw error;
      }
      const reply = new PendingReply<void>(1, target.what);
      worker.request(frame, requestId, reply, target, this.retries);
      return reply.promise;
    } catch (error) {
      return Promise.reject(
        toFelixError(error, 'invalid_argument', `publish to ${shownName(String(stream))}`),
      );
    }
  }

  /**
   * Publishes `payloads` to one stream, in order, on one worker. A batch above FELIX_PUBLISH_CHUNK_BYTES
   * travels as several frames (and chunked publishes for single payloads above it); with an ack, the
   * promise resolves when all of them are acknowledged, and rejects once all are answered if any was
   * refused (BatchReply: the error says which payloads were appended). A payload above the broker's
   * largest message fails the batch before any of it is sent.
   */
  publishBatch(stream: string, payloads: readonly Payload[], options?: PublishOptions): Promise<void> {
    try {
      const bytes = batchPayloads(payloads).map(payloadBytes);
      const ack = ackModeOf(options?.ack, 'per_batch');
      if (bytes.length === 0) return RESOLVED;
      const target = this.target(options?.namespace ?? this.options.namespace, stream);
      const worker = this.pool.worker(this.picker.pick(target.hash));
      // The broker refuses such a payload (nothing of its frame appended) but would append the batch's
      // other frames: refused here, the batch fails whole.
      const announced = (worker.negotiated ?? this.negotiated).maxFrameBytes;
      if (announced !== null) checkBatchSizes(target, bytes, announced, this.options.envelopeBytes);
      const frames = this.encodeBatch(worker, target, bytes, ack);
      if (ack === 'none') {
        let admitted: Promise<void> | undefined;
        for (const part of frames) {
          // Parts are admitted in order, so waiting for the last admission covers them all.
          admitted?.catch(noop);
          admitted =
            part.frame !== undefined
              ? worker.send(part.frame, target)
              : worker.sendChunked(part.chunks!, target);
        }
        return admitted ?? RESOLVED;
      }
      if (frames.length === 1) {
        const reply = new PendingReply<void>(1, target.what);
        this.requestPart(worker, frames[0]!, reply, target);
        return reply.promise;
      }
      const batch = new BatchReply(bytes.length, target.what);
      for (const part of frames) this.requestPart(worker, part, batch.part(part.start, part.end), target);
      return batch.promise;
    } catch (error) {
      return Promise.reject(
        toFelixError(error, 'invalid_argument', `publish batch to ${shownName(String(stream))}`),
      );
    }
  }

  private requestPart(
    worker: RequestStream,
    part: EncodedPart,
    reply: Settleable,
    target: PublishTarget,
  ): void {
    if (part.frame !== undefined) worker.request(part.frame, part.requestId!, reply, target, this.retries);
    else worker.requestChunked(part.chunks!, part.requestId!, reply, target, this.retries);
  }

  /** Every frame of a batch, encoded before any is sent: a payload that cannot be sent fails it whole. */
  private encodeBatch(
    worker: RequestStream,
    target: PublishTarget,
    bytes: Uint8Array[],
    ack: AckMode,
  ): EncodedPart[] {
    const producerId = this.idempotent && ack !== 'none' ? worker.producerId : 0;
    const mark = worker.sequenceMark;
    try {
      return this.encodeParts(worker, target, bytes, ack, producerId);
    } catch (error) {
      // Nothing was sent: the sequences go to the next publishes, so the broker sees no hole.
      worker.rewindSequences(mark);
      throw error;
    }
  }

  private encodeParts(
    worker: RequestStream,
    target: PublishTarget,
    bytes: Uint8Array[],
    ack: AckMode,
    producerId: number,
  ): EncodedPart[] {
    const { chunkBytes, maxFrameBytes, wholeMaxBytes } = this.limitsOf(worker);
    const chunkedAbove = this.negotiated.publishChunks ? wholeMaxBytes : Infinity;
    return planBatch(bytes, chunkBytes, chunkedAbove).map((part): EncodedPart => {
      const requestId = ack === 'none' ? undefined : worker.nextRequestId();
      const sequence = producerId === 0 ? 0 : worker.nextSequence();
      if (part.kind === 'chunked') {
        const chunkAck = ack === 'per_batch' ? 'per_message' : ack;
        const payload = bytes[part.index]!;
        const publishId = worker.nextRequestId();
        return {
          requestId,
          start: part.index,
          end: part.index + 1,
          chunks: encodeChunkedPublish(
            target,
            payload,
            chunkAck,
            requestId,
            publishId,
            chunkBytes,
            this.negotiated,
            producerId,
            sequence,
          ),
        };
      }
      const slice = part.start === 0 && part.end === bytes.length ? bytes : bytes.slice(part.start, part.end);
      return {
        requestId,
        start: part.start,
        end: part.end,
        frame: encodePublishFrame(
          target,
          slice,
          ack,
          requestId,
          this.negotiated,
          maxFrameBytes,
          producerId,
          sequence,
          // Only an answered frame comes back to the recycler.
          ack === 'none' ? allocateFrame : this.options.allocate,
        ),
      };
    });
  }

  private publishChunked(
    worker: RequestStream,
    target: PublishTarget,
    payload: Uint8Array,
    ack: AckMode,
    limits: FrameLimits,
  ): Promise<void> {
    const requestId = ack === 'none' ? undefined : worker.nextRequestId();
    const publishId = worker.nextRequestId();
    const producer = this.idempotent && requestId !== undefined;
    const chunks = encodeChunkedPublish(
      target,
      payload,
      ack,
      requestId,
      publishId,
      limits.chunkBytes,
      this.negotiated,
      producer ? worker.producerId : 0,
      producer ? worker.nextSequence() : 0,
    );
    if (requestId === undefined) return worker.sendChunked(chunks, target) ?? RESOLVED;
    const reply = new PendingReply<void>(1, target.what);
    worker.requestChunked(chunks, requestId, reply, target, this.retries);
    return reply.promise;
  }

  /**
   * How `worker`'s publishes are cut: chunks and whole payloads sized to the frame limit its broker
   * announced at its latest auth, so that a broker restarted with smaller frames gets frames it takes.
   */
  private limitsOf(worker: RequestStream): FrameLimits {
    const maxFrameBytes = worker.frameLimit;
    const cached = this.limits;
    if (cached !== null && cached.maxFrameBytes === maxFrameBytes) return cached;
    const { envelopeBytes } = this.options;
    const chunkBytes = Math.max(1, Math.min(this.options.chunkBytes, maxFrameBytes - envelopeBytes));
    const limits: FrameLimits = {
      maxFrameBytes,
      chunkBytes,
      wholeMaxBytes: wholePayloadLimit(this.options.wholeMaxBytes, chunkBytes, maxFrameBytes, envelopeBytes),
    };
    this.limits = limits;
    return limits;
  }

  /** The cached target of a stream: hashed once, and the same object every time (the ordering key). */
  private target(namespace: string, stream: string): PublishTarget {
    let streams = this.targets.get(namespace);
    if (streams === undefined) {
      streams = new Map();
      this.targets.set(namespace, streams);
    }
    let target = streams.get(stream);
    if (target === undefined) {
      if (typeof stream !== 'string' || stream === '' || typeof namespace !== 'string' || namespace === '') {
        throw new FelixError('invalid_argument', `stream and namespace must be non-empty strings`);
      }
      const tenant = this.options.tenant;
      target = Object.freeze({
        tenant,
        namespace,
        stream,
        hash: streamHash(tenant, namespace, stream),
        what: `publish to ${shownPath(tenant, namespace, stream)}`,
      });
      streams.set(stream, target);
    }
    return target;
  }
}
