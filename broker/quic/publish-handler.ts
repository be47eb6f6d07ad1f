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
import type { BrokerCore } from '../core/broker-core.js';
import { HOP } from '../core/hop-timings.js';
import type { BudgetAccount, BudgetHolder } from '../core/publish-budget.js';
import type { Pausable, Topic } from '../core/topic.js';
import type { AckForm, Replies } from './replies.js';

/** The stream a publish handler serves, as far as publishing is concerned. */
export interface PublishingStream extends BudgetHolder, Pausable {
  /** The tenant the stream's auth named. */
  readonly tenant: string;
  /** Publishers stamp their publishes (TIMINGS negotiated) on this host's clock. */
  readonly stampsComparable: boolean;
}

export class PublishHandler {
  private chunks: PublishChunkAssembler | null = null;
  /** Bytes held by chunked publishes being reassembled, charged to the budget. */
  private chunkBytes = 0;

  constructor(
    private readonly core: BrokerCore,
    private readonly owner: PublishingStream,
    private readonly replies: Replies,
  ) {}

  private get account(): BudgetAccount {
    return this.owner.account;
  }

  /**
   * A publish of `payloads` (one event each). `sendNs`: the publisher's send stamp (0 when none).
   * Unacked publishes are never answered, except by an error.
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
  ): void {
    const acked = requestId !== undefined && ack !== undefined && ack !== 'none';
    const reply = acked ? requestId : undefined;
    const topic = this.findTopic(tenant, namespace, stream, reply, form);
    if (topic === undefined) return;
    const core = this.core;
    if (core.draining) {
      this.refuse(reply, form, 'broker is draining for shutdown', 'draining');
      return;
    }
    let bytes = 0;
    for (let i = 0; i < payloads.length; i++) bytes += payloads[i]!.length;
    const budget = core.budget;
    if (acked && !budget.fits(this.account, bytes)) {
      core.stats.publishRejectedBudget++;
      this.refuse(reply, form, budget.refusal(this.account, bytes), 'overloaded');
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
    topic.noteArrival();
    // Acks go out once the events are in the stream's log: they are then never lost while the broker runs,
    // and graceful shutdown delivers them to current subscribers.
    if (acked) this.replies.publishOk(requestId, form);
    if (topic.blocked) topic.holdBack(this.owner);
    if (!acked && budget.overLimit(this.owner)) this.owner.pause();
  }

  publishChunk(m: MessageOf<'publish_chunk'>): void {
    const acked = m.request_id !== undefined && m.ack !== undefined && m.ack !== 'none';
    const reply = acked ? m.request_id : undefined;
    const budget = this.core.budget;
    this.chunks ??= new PublishChunkAssembler({ maxPayloadBytes: budget.connectionLimit });
    if (m.byte_offset === 0) {
      // A publish larger than the connection's whole budget can never be admitted, acked or not; an acked
      // one that does not fit now is refused now rather than after its last chunk.
      if (m.total_len > budget.connectionLimit || (acked && !budget.fits(this.account, m.total_len))) {
        this.core.stats.publishRejectedBudget++;
        this.refuse(reply, 'message', budget.refusal(this.account, m.total_len), 'overloaded');
        return;
      }
    }
    let whole;
    try {
      whole = this.chunks.accept(m);
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      // The broken publish was dropped: what its earlier pieces held is free again.
      this.chargeHeldChunks();
      this.refuse(err.requestId ?? reply, 'message', err.message, 'invalid_request');
      return;
    }
    // Reassembly holds the pieces: they count against the in-flight budget until the publish completes.
    // The stream is never paused mid-publish (its own last chunk is what frees the budget); unacked
    // publishes feel backpressure once complete, in publish().
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
    );
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
  }

  /**
   * A refused publish: an acked one (`requestId` given) gets publish_error in the form it was sent in,
   * anything else a plain error.
   */
  refuse(requestId: number | undefined, form: AckForm, message: string, code: ErrorCode): void {
    this.core.stats.publishErrors++;
    if (requestId === undefined) this.replies.sendError(message, code);
    else this.replies.publishError(requestId, message, code, form);
  }

  private findTopic(
    tenant: string,
    namespace: string,
    stream: string,
    requestId: number | undefined,
    form: AckForm,
  ): Topic | undefined {
    if (tenant !== this.owner.tenant) {
      this.refuse(requestId, form, tenantRefusal(this.owner.tenant, tenant), 'forbidden');
      return undefined;
    }
    const found = this.core.registry.topic(tenant, namespace, stream);
    if (!found.ok) {
      this.refuse(requestId, form, found.message, found.code);
      return undefined;
    }
    return found.value;
  }
}

export function tenantRefusal(authenticated: string, asked: string): string {
  return `stream authenticated for tenant ${authenticated} may not use tenant ${asked}`;
}
