// What a subscription hands the application: its events, and the gaps between them.

export interface FelixEvent {
  readonly tenant: string;
  readonly namespace: string;
  readonly stream: string;
  /** The event's bytes, owned by the application (a copy, never a view of a reused buffer). */
  readonly payload: Uint8Array;
  /** The per-stream offset; -1 only from a broker that sends no offsets (Felix without 0x20). */
  readonly offset: number;
  /**
   * Offsets skipped right before this one: 0 normally; the events the broker dropped for this subscriber
   * or retention discarded before a resume; Infinity when unknown (see `epochChanged`). After an unclean
   * stop (kill -9, power loss) of a durable stream without FELIX_ACK_ON_COMMIT it also counts offsets the
   * broker had reserved but never used (up to 65,536; docs/durability.md): an upper bound of events lost.
   */
  readonly gap: number;
  /**
   * True on the first event after the broker lost the stream's history (it restarted: a new epoch). The
   * events after the last one received before are gone, how many is unknown, and offsets count anew.
   * Always set by the SDK (optional only so that events built by hand, in tests, need not name it).
   */
  readonly epochChanged?: boolean;
}

/** @internal the one event class, so every event the SDK makes has one shape. */
export class SubscriptionEvent implements FelixEvent {
  constructor(
    readonly tenant: string,
    readonly namespace: string,
    readonly stream: string,
    readonly payload: Uint8Array,
    readonly offset: number,
    readonly gap: number,
    readonly epochChanged: boolean,
  ) {}
}

/**
 * Events this subscriber will never see: a run of offsets the broker skipped (its queue policy dropped
 * them), retention discarded before a resume, or — `epochChanged` — history the broker lost entirely.
 */
export interface GapInfo {
  /** The first missing offset (in the epoch before the change, when the epoch changed; -1 if none was known). */
  readonly expected: number;
  /**
   * The offset that arrived instead; for a gap the broker told of (`notice`), the next offset to come.
   */
  readonly offset: number;
  /**
   * offset − expected: the offsets skipped; undefined when unknown (the epoch changed). After an unclean
   * stop (kill -9, power loss) of a durable stream without FELIX_ACK_ON_COMMIT it includes offsets the
   * broker had reserved but never used (up to 65,536; docs/durability.md, "Offsets after an unclean
   * stop"), so it is then an upper bound, not a count of lost events.
   */
  readonly missed: number | undefined;
  /** The stream epoch `offset` belongs to (undefined from a broker that sends none). */
  readonly epoch?: number;
  /**
   * The broker lost the stream's history (a restart): offsets count anew from `offset`. Always set by the
   * SDK (optional only so that gaps built by hand, in tests, need not name it).
   */
  readonly epochChanged?: boolean;
  /**
   * The broker told of this gap (events_dropped) because no later event showed it yet: its queue policy
   * dropped the tail of a burst. Reported once the events before it were delivered.
   */
  readonly notice?: boolean;
}
