/**
 * The publishes of one client stream: plain, batched, binary and chunked, checked against tenant, names,
 * draining and the in-flight budget, then handed to the topic; acks go back once the events are in the
 * stream's log.
 */
import {
  PublishChunkAssembler,
  WireError,
  monotonicNs,
  type AckMode,
  type ErrorCode,
  type MessageOf,
} from '../../wire/index.js';
import { shownPath } from '../../config/shown-name.js';
import type { BrokerCore } from '../core/broker-core.js';
import { HOP } from '../core/hop-timings.js';
import { largestMessage, tooLargeMessage, type MessageSizeLimit } from '../core/message-size.js';
import type { ProducerState } from '../core/producer-dedup.js';
import type { BudgetAccount, BudgetHolder } from '../core/publish-budget.js';
import { MAX_STREAM_END } from '../core/stream-log.js';
import type { CommitWaiter, StorageErrorCode } from '../core/stream-storage.js';
import { tenantRefusal } from '../core/registry.js';
import type { Pausable, Topic } from '../core/topic.js';
import type { ErrorSite } from '../core/ports.js';
import type { Access } from './access.js';
import { refusalCodeOf, type AckForm, type Replies } from './replies.js';

/** The stream a publish handler serves, as far as publishing is concerned. */
export interface PublishingStream extends BudgetHolder, Pausable, Access {
  /** The tenant the stream's auth named. */
  readonly tenant: string;
  /** Publishers stamp their publishes (TIMINGS negotiated) on this host's clock. */
  readonly stampsComparable: boolean;
}

/** The ack form travels with a pending ack as a number (no object per ack). */
const FORM_TAGS: readonly AckForm[] = ['message', 'binary'];
/**
 * Refused or broken chunked publishes whose remaining pieces are dropped unanswered: far more than may be
 * in progress at once (16), so that a client refused many times in a row still hears once per publish; a
 * few dozen KiB at most.
 */
const MAX_REFUSED_CHUNKED = 1024;

export class PublishHandler implements CommitWaiter {
  private chunks: PublishChunkAssembler | null = null;
  /** Bytes held by chunked publishes being reassembled, charged to the budget. */
  private chunkBytes = 0;
  /**
   * Chunked publishes refused at their first piece (too large, over budget), by publish_id: their later
   * pieces are dropped without an answer each, the one refusal having said it all.
   */
  private refusedChunked: Set<number> | null = null;
  private readonly largest: MessageSizeLimit;

  constructor(
    private readonly core: BrokerCore,
    private readonly owner: PublishingStream,
    private readonly replies: Replies,
    /** Answering a commit threw (a defect): its connection pays, not the process (see committed). */
    private readonly internalError: (err: unknown) => void,
  ) {
    this.largest = largestMessage(core.config);
  }

  private get account(): BudgetAccount {
    return this.owner.account;
  }

  /**
   * A publish of `payloads` (one event each). `sendNs`: the publisher's send stamp (0 when none).
   * `producerId`/`sequence` (0 when none, IDEMPOTENT_PUBLISH): an acked publish this producer retried
   * after it was accepted is acknowledged again and not appended. Unacked publishes are never answered,
   * except by an error.
   */
  publish(
    tenant: string,
    namespace: string,
    stream: string,
    payloads: readonly Uint8Array[],
    requestId: number | undefined,
    ack: AckMode | undefined,
    form: AckForm,
    sendNs: number,
    producerId = 0,
    sequence = 0,
    /** A chunked publish, found new at its first piece: its sequence may since lie below the window. */
    knownNew = false,
  ): void {
    const acked = isAcked(requestId, ack);
    const topic = this.findTopic(tenant, namespace, stream, requestId, acked, form);
    if (topic === undefined) return;
    const core = this.core;
    // Checked before draining and the budget: a duplicate is already in the log, whatever happens now.
    const producer = this.producerOf(acked, tenant, producerId);
    if (producer !== undefined && !knownNew && producer.has(sequence)) {
      core.stats.duplicatePublishes++;
      this.replies.publishOk(requestId!, form);
      return;
    }
    const storage = topic.storage;
    const refusal = storage?.refusal;
    if (refusal) {
      // Nothing was taken: sent again once a retried write succeeded, it is (the retry's period says when).
      const site =
        refusal.retryAfterMs === undefined ? undefined : { detail: { retry_after_ms: refusal.retryAfterMs } };
      this.refuse(requestId, form, refusal.message, refusal.code, acked, site);
      return;
    }
    if (!topic.offsetsLeftFor(payloads.length)) {
      this.refuseOffsetsUsedUp(topic, requestId, form, acked);
      return;
    }
    if (core.draining) {
      core.noteDrainRefusal();
      this.refuse(requestId, form, 'broker is draining for shutdown', 'draining', acked);
      return;
    }
    let bytes = 0;
    let largest = 0;
    for (let i = 0; i < payloads.length; i++) {
      const length = payloads[i]!.length;
      bytes += length;
      if (length > largest) largest = length;
    }
    if (largest > this.largest.bytes) {
      // Accepted, it could never be delivered: no subscriber takes a frame that large.
      this.refuse(requestId, form, tooLargeMessage(largest, this.largest), 'payload_too_large', acked);
      return;
    }
    const budget = core.budget;
    if (acked && !budget.fits(this.account, bytes)) {
      core.stats.publishRejectedBudget++;
      this.refuse(requestId, form, budget.refusal(this.account, bytes), 'overloaded', acked);
      return;
    }
    const timings = core.timings;
    // An event batch is stamped by the publish frame that starts it: the clock is read for that one only.
    if (timings !== null && !topic.hasBatchStamp) {
      const decodeNs = monotonicNs();
      // A send stamp from another host's clock means nothing here, nor to subscribers.
      const comparable = this.owner.stampsComparable ? sendNs : 0;
      if (comparable !== 0) timings.record(HOP.publish_to_broker, decodeNs - comparable);
      topic.stamp(comparable, decodeNs);
    }
    for (let i = 0; i < payloads.length; i++) topic.publish(payloads[i]!, this.account);
    if (producer !== undefined) {
      // A chunked publish's sequence may have fallen below the window while its pieces came (it then counts
      // as accepted already): adding it again would set a bit standing for another sequence.
      if (!producer.has(sequence)) producer.add(sequence);
      storage?.noteProducer(tenant, producerId, sequence, topic.log.next + topic.pendingEvents);
    }
    // Acks go out once the events are in the stream's log: they are then never lost while the broker runs,
    // and graceful shutdown delivers them to current subscribers.
    // With FELIX_ACK_ON_COMMIT a durable stream's acks wait for the commit (fsync under the policy) that
    // covers the last event of this publish; one commit releases every ack it covers.
    if (acked) {
      if (storage !== null && storage.acksOnCommit) {
        storage.whenCommitted(topic.log.next + topic.pendingEvents, this, requestId, FORM_TAGS.indexOf(form));
      } else {
        this.replies.publishOk(requestId, form);
        // A lone event's delivery is what its latency is made of: its ack waits until it is on the wire.
        // A batch's ack leaves at once, keeping the publisher's window moving.
        if (payloads.length === 1 && topic.hasSubscribers) this.replies.afterDeliveries();
      }
    }
    if (topic.blocked) topic.holdBack(this.owner);
    if (!acked && budget.overLimit(this.owner)) this.owner.pause();
  }

  /**
   * A publish waiting for its commit is durable (CommitWaiter). Called from the storage's write or fsync
   * completion, outside every connection's handlers, with other publishers' acks behind it: a throw ends
   * this connection alone.
   */
  committed(requestId: number, tag: number): void {
    try {
      this.replies.publishOk(requestId, FORM_TAGS[tag]!);
    } catch (err) {
      this.internalError(err);
    }
  }

  /**
   * A publish waiting for its commit will not be committed now: the stream's storage failed. Its events
   * are in the stream and may still be written when a retried write succeeds: its outcome is unknown.
   */
  failed(requestId: number, tag: number, code: StorageErrorCode, message: string): void {
    this.core.stats.publishErrors++;
    try {
      this.replies.publishError(requestId, message, code, FORM_TAGS[tag]!, { retry: 'outcome_unknown' });
    } catch (err) {
      this.internalError(err);
    }
  }

  publishChunk(m: MessageOf<'publish_chunk'>): void {
    const acked = isAcked(m.request_id, m.ack);
    const budget = this.core.budget;
    this.chunks ??= new PublishChunkAssembler({ maxPayloadBytes: this.largest.bytes });
    const refused = this.refusedChunked;
    if (refused !== null && refused.has(m.publish_id)) {
      if (m.byte_offset !== 0) {
        if (m.byte_offset + m.payload.length >= m.total_len) refused.delete(m.publish_id);
        return;
      }
      refused.delete(m.publish_id); // the id starts a new publish
    }
    if (m.byte_offset === 0) {
      // A new first piece under the id of a publish in progress: that one ends, answered for its own
      // request, and this one starts (each request gets its answer; none waits forever).
      const abandoned = this.chunks.abandon(m.publish_id);
      if (abandoned !== undefined) {
        this.chargeHeldChunks();
        this.refuse(
          abandoned.requestId,
          'message',
          `publish_chunk ${m.publish_id} was restarted by a new first piece before it completed`,
          'invalid_request',
          abandoned.ackRequested,
        );
      }
      // Refused at its first piece when it may not be published at all (another tenant, no permission, a
      // bad name): nothing of it is buffered only to be refused at its last.
      const target = this.topicFor(m.tenant_id, m.namespace, m.stream);
      if (!target.ok) {
        this.refuseChunked(m, target.message, target.code, acked);
        return;
      }
      if (m.total_len > this.largest.bytes) {
        this.refuseChunked(m, tooLargeMessage(m.total_len, this.largest), 'payload_too_large', acked);
        return;
      }
      // A retried chunked publish is recognised at its first piece, and only when its sequence is known to
      // have been accepted: the producer's later publishes may already have moved the window past it (the
      // SDK sends them between — and even before — its pieces), and a new publish taken for a duplicate
      // would be acked and never appended. Decided here, its last piece appends it (knownNew).
      const producer = this.producerOf(acked, m.tenant_id, m.producer_id ?? 0);
      if (producer !== undefined && producer.surelyHas(m.sequence ?? 0)) {
        this.core.stats.duplicatePublishes++;
        this.replies.publishOk(m.request_id!, 'message');
        this.dropLaterPieces(m);
        return;
      }
      if (this.chunks.full) {
        // A bound on what is in flight, not on the publish: it is taken once one in progress completes
        // (`retry_after`, as for the partial-frame bound).
        const max = this.chunks.maxPending;
        const why = `${max} chunked publishes already in progress on this stream: send it once one completes`;
        this.refuseChunked(m, why, 'limit_exceeded', acked, { retry: 'retry_after' });
        return;
      }
    }
    // A chunked publish holds what has arrived of it against the in-flight budget, acked or not, until it
    // completes or is dropped: never what it announces (a first piece declaring 16 MiB and nothing more
    // would hold 16 MiB for free), so holding the budget costs the bytes. A piece that does not fit ends
    // its publish, answered for its own request.
    if (m.payload.length > 0 && !budget.fits(this.account, m.payload.length)) {
      this.core.stats.publishRejectedBudget++;
      // Worded before the dropped publish's bytes are released: the numbers that refused the piece.
      const why = budget.refusal(this.account, m.payload.length);
      const dropped = m.byte_offset === 0 ? undefined : this.chunks.abandon(m.publish_id);
      if (dropped !== undefined) this.chargeHeldChunks();
      this.refuse(
        dropped?.requestId ?? m.request_id,
        'message',
        why,
        'overloaded',
        dropped?.ackRequested ?? acked,
      );
      this.dropLaterPieces(m);
      return;
    }
    let whole;
    try {
      whole = this.chunks.accept(m);
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      // The broken (or refused, or never started) publish was dropped: what its earlier pieces held is free
      // again, and its later pieces go unanswered (one answer says it all).
      this.chargeHeldChunks();
      this.dropLaterPieces(m);
      this.refuse(err.requestId, 'message', err.message, refusalCodeOf(err), err.ackRequested);
      return;
    }
    // Reassembly holds the pieces: the publish's reservation stays charged until it completes. The stream
    // is never paused mid-publish (its own last chunk is what frees the budget).
    this.chargeHeldChunks();
    if (whole === undefined) return;
    this.publish(
      whole.tenant_id,
      whole.namespace,
      whole.stream,
      [whole.payload],
      whole.request_id,
      whole.ack,
      'message',
      0,
      whole.producer_id ?? 0,
      whole.sequence ?? 0,
      true,
    );
  }

  /**
   * The stream cannot number the publish's events (its next offset would pass 2^53 − 1): refused whole,
   * nothing taken. Sending it again fails the same way (`limit_exceeded`, class fatal); the error log line
   * comes once per stream, however many publishes follow.
   */
  private refuseOffsetsUsedUp(
    topic: Topic,
    requestId: number | undefined,
    form: AckForm,
    acked: boolean,
  ): void {
    const name = `${topic.tenant}/${topic.namespace}/${topic.name}`;
    const next = topic.log.next + topic.pendingEvents;
    if (!topic.offsetsUsedUp) {
      topic.offsetsUsedUp = true;
      this.core.log.error(
        { stream: name, nextOffset: next, maxOffset: MAX_STREAM_END - 1 },
        'stream offsets used up: publishes to it are refused',
      );
    }
    this.refuse(
      requestId,
      form,
      `stream ${shownPath(topic.tenant, topic.namespace, topic.name)} has no offsets left for this ` +
        `publish: its next offset is ${next} and offsets end at 2^53 - 2 (${MAX_STREAM_END - 1}); it ` +
        'takes no more events',
      'limit_exceeded',
      acked,
    );
  }

  /** Refuses a chunked publish at its first piece; its later pieces are dropped quietly. */
  private refuseChunked(
    m: MessageOf<'publish_chunk'>,
    message: string,
    code: ErrorCode,
    acked: boolean,
    site?: ErrorSite,
  ): void {
    this.refuse(m.request_id, 'message', message, code, acked, site);
    this.dropLaterPieces(m);
  }

  /**
   * The pieces still to come of the publish `m` belongs to, refused or dropped at `m`, go unanswered —
   * unless `m` was a whole publish in one piece. (A later piece's claim to be the last is not trusted: it
   * broke its publish.)
   */
  private dropLaterPieces(m: MessageOf<'publish_chunk'>): void {
    if (m.byte_offset === 0 && m.payload.length >= m.total_len) return;
    const refused = (this.refusedChunked ??= new Set());
    if (refused.size === MAX_REFUSED_CHUNKED) refused.delete(refused.values().next().value!);
    refused.add(m.publish_id);
  }

  /** The duplicate-window state of an acked publish's producer (IDEMPOTENT_PUBLISH); undefined when none. */
  private producerOf(acked: boolean, tenant: string, producerId: number): ProducerState | undefined {
    return acked && producerId !== 0 ? this.core.dedup?.producer(tenant, producerId) : undefined;
  }

  /** Chunked publishes are being reassembled on this stream (their pieces wait for the next). */
  get holdsChunks(): boolean {
    return this.chunks !== null && this.chunks.pendingPublishes > 0;
  }

  /** Charges (or releases) the budget so that it holds exactly what reassembly holds. */
  private chargeHeldChunks(): void {
    const held = this.chunks!.heldBytes;
    const change = held - this.chunkBytes;
    if (change > 0) this.core.budget.charge(this.account, change);
    else if (change < 0) this.core.budget.release(this.account, -change);
    this.chunkBytes = held;
  }

  /** The stream ended: unfinished chunked publishes are dropped and their bytes released. */
  release(): void {
    if (this.chunkBytes > 0) this.core.budget.release(this.account, this.chunkBytes);
    this.chunkBytes = 0;
    this.chunks?.clear();
    this.chunks = null;
    this.refusedChunked = null;
  }

  /**
   * A refused publish: an acked one gets publish_error in the form it was sent in, anything else an error
   * (naming its request_id when it had one).
   */
  refuse(
    requestId: number | undefined,
    form: AckForm,
    message: string,
    code: ErrorCode,
    acked = requestId !== undefined,
    site?: ErrorSite,
  ): void {
    this.core.stats.publishErrors++;
    if (acked && requestId !== undefined) this.replies.publishError(requestId, message, code, form, site);
    else this.replies.sendError(message, code, requestId, site);
  }

  private findTopic(
    tenant: string,
    namespace: string,
    stream: string,
    requestId: number | undefined,
    acked: boolean,
    form: AckForm,
  ): Topic | undefined {
    const found = this.topicFor(tenant, namespace, stream);
    if (!found.ok) {
      this.refuse(requestId, form, found.message, found.code, acked, found.site);
      return undefined;
    }
    return found.value;
  }

  /** The stream a publish goes to, or why this stream may not publish there (tenant, permission, name). */
  private topicFor(
    tenant: string,
    namespace: string,
    stream: string,
  ): { ok: true; value: Topic } | { ok: false; code: ErrorCode; message: string; site?: ErrorSite } {
    if (tenant !== this.owner.tenant) {
      return { ok: false, code: 'forbidden', message: tenantRefusal(this.owner.tenant, tenant) };
    }
    const denied = this.owner.denied('stream.publish', tenant, namespace, stream);
    if (denied !== undefined) return { ok: false, code: 'forbidden', message: denied };
    return this.core.registry.topic(tenant, namespace, stream);
  }
}

/** Whether a publish asked for an ack: it names its request and its ack mode is not 'none'. */
function isAcked(requestId: number | undefined, ack: AckMode | undefined): requestId is number {
  return requestId !== undefined && ack !== undefined && ack !== 'none';
}
