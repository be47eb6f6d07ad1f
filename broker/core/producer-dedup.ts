/**
 * Which acked publishes of each producer the broker has already accepted (feature IDEMPOTENT_PUBLISH), so
 * that a retry — the SDK resends what was in flight when a connection dropped, on a new connection — is
 * acknowledged again instead of appended twice. Keyed by producer id alone, not by connection: the retry
 * comes on another one.
 *
 * Per producer: `low`, below and at which every sequence counts as accepted, and while sequences arrive
 * out of order (a pipelining client resending), a bitmap of the accepted ones in the WINDOW_SEQUENCES
 * above it. In order — the usual case — a producer costs a few numbers and no bitmap.
 *
 * Bounds: a producer idle for `windowMs` is forgotten; beyond `maxProducers` the least recently used one
 * of the tenant holding the most is, so no tenant can push another's producers out. Each tenant's map is
 * kept in use order by moving an entry to its end at most once per clock tick (the clock is the broker's
 * periodic sweep), so the hot path pays one or two Map lookups per acked frame, and expiry walks only the
 * expired entries at the front of each.
 */

/** Sequences above the contiguous mark a producer may have accepted out of order. */
export const WINDOW_SEQUENCES = 4096;
const WORDS = WINDOW_SEQUENCES / 32;

export interface ProducerDedupOptions {
  /** FELIX_DEDUP_WINDOW_MS: how long an idle producer is remembered. */
  readonly windowMs: number;
  /** FELIX_DEDUP_MAX_PRODUCERS. */
  readonly maxProducers: number;
}

/** One producer's accepted sequences. */
export class ProducerState {
  /** Every sequence at or below it counts as accepted. */
  private low = 0;
  /** The highest sequence accepted. */
  private high = 0;
  /**
   * The highest contiguous mark a slide set (see slide): at or below it, sequences count as accepted
   * without being known to be — the producer was taken to have given them up.
   */
  private slidTo = 0;
  /** Accepted sequences in (low, high], bit `sequence % WINDOW_SEQUENCES`; only while out of order. */
  private bits: Uint32Array | null = null;
  /** @internal the dedup clock when this producer was last moved to the end of the use order */
  touched: number;

  constructor(
    readonly tenant: string,
    touched: number,
  ) {
    this.touched = touched;
  }

  /** Whether `sequence` was accepted already (or lies below the window, where it counts as accepted). */
  has(sequence: number): boolean {
    if (sequence <= this.low) return true;
    if (sequence > this.high || this.bits === null) return false;
    return bitOf(this.bits, sequence);
  }

  /**
   * Whether `sequence` is known to have been accepted: as has(), but a sequence the window only slid past
   * is not. For the first piece of a chunked publish, which legitimately arrives after thousands of its
   * producer's later publishes (they are sent between its pieces, and may be sent before it): taken for
   * a duplicate there, a new publish would be acked and never appended; taken as new, a real retry of
   * one that old is at worst appended twice.
   */
  surelyHas(sequence: number): boolean {
    if (sequence <= this.slidTo) return false;
    return this.has(sequence);
  }

  /** Records `sequence` as accepted. Call only after has(sequence) returned false. */
  add(sequence: number): void {
    if (sequence === this.low + 1 && this.high === this.low) {
      this.low = this.high = sequence;
      return;
    }
    if (sequence - this.low > WINDOW_SEQUENCES) this.slide(sequence - WINDOW_SEQUENCES);
    const bits = (this.bits ??= new Uint32Array(WORDS));
    setBit(bits, sequence);
    if (sequence > this.high) this.high = sequence;
    // Absorb the run of accepted sequences above the contiguous mark.
    while (this.low < this.high && bitOf(bits, this.low + 1)) {
      clearBit(bits, ++this.low);
    }
    if (this.low === this.high) this.bits = null;
  }

  /**
   * Moves the contiguous mark up to `low`: a producer more than a window ahead of a gap gave up on what
   * the gap held (the SDK resends only what is still pending, in order), so it counts as settled.
   */
  private slide(low: number): void {
    const bits = this.bits;
    if (bits !== null) for (let s = this.low + 1; s <= Math.min(low, this.high); s++) clearBit(bits, s);
    this.low = low;
    this.slidTo = low;
    if (this.high < low) this.high = low;
  }
}

export class ProducerDedup {
  /** Every producer remembered, by id (ids are random: one lookup per acked frame). */
  private readonly producers = new Map<number, ProducerState>();
  /**
   * The same producers per tenant, each map in use order (least recently used first). Past maxProducers
   * the tenant holding the most gives up its least recently used: one tenant creating producers without
   * end forgets its own, never another tenant's few.
   */
  private readonly byTenant = new Map<string, Map<number, ProducerState>>();
  private clock: number;

  constructor(
    private readonly options: ProducerDedupOptions,
    now: number,
  ) {
    this.clock = now;
  }

  /** Producers remembered. */
  get size(): number {
    return this.producers.size;
  }

  /**
   * The state of `producerId` (created on first use), or undefined when another tenant already uses that
   * id: then nothing is deduplicated, so one tenant can never suppress another's publishes.
   */
  producer(tenant: string, producerId: number): ProducerState | undefined {
    let state = this.producers.get(producerId);
    if (state === undefined) {
      state = new ProducerState(tenant, this.clock);
      this.producers.set(producerId, state);
      let own = this.byTenant.get(tenant);
      if (own === undefined) this.byTenant.set(tenant, (own = new Map()));
      own.set(producerId, state);
      if (this.producers.size > this.options.maxProducers) this.evictOne();
      return state;
    }
    if (state.tenant !== tenant) return undefined;
    if (state.touched !== this.clock) {
      // Most recently used last: the front of each tenant's map is what expires (and is evicted) first.
      const own = this.byTenant.get(tenant)!;
      own.delete(producerId);
      own.set(producerId, state);
      state.touched = this.clock;
    }
    return state;
  }

  /**
   * Marks `producerId`'s sequences first..last accepted (a durable log holds them: producer-journal.ts).
   * Only the last WINDOW_SEQUENCES matter: below them every sequence counts as accepted anyway.
   */
  restore(tenant: string, producerId: number, first: number, last: number): void {
    const state = this.producer(tenant, producerId);
    if (state === undefined) return;
    for (let s = Math.max(first, last - WINDOW_SEQUENCES + 1); s <= last; s++) {
      if (!state.has(s)) state.add(s);
    }
  }

  /** Advances the clock to `now` (ms) and forgets producers idle for longer than the window. */
  sweep(now: number): void {
    this.clock = now;
    const oldest = now - this.options.windowMs;
    for (const [tenant, own] of this.byTenant) {
      for (const [id, state] of own) {
        if (state.touched >= oldest) break;
        own.delete(id);
        this.producers.delete(id);
      }
      if (own.size === 0) this.byTenant.delete(tenant);
    }
  }

  /** Forgets the least recently used producer of the tenant that holds the most. */
  private evictOne(): void {
    let largest: Map<number, ProducerState> | undefined;
    let largestTenant = '';
    for (const [tenant, own] of this.byTenant) {
      if (largest === undefined || own.size > largest.size) {
        largest = own;
        largestTenant = tenant;
      }
    }
    if (largest === undefined) return;
    const id = largest.keys().next().value as number;
    largest.delete(id);
    this.producers.delete(id);
    if (largest.size === 0) this.byTenant.delete(largestTenant);
  }
}

function bitOf(bits: Uint32Array, sequence: number): boolean {
  const i = sequence % WINDOW_SEQUENCES;
  return (bits[i >>> 5]! & (1 << (i & 31))) !== 0;
}

function setBit(bits: Uint32Array, sequence: number): void {
  const i = sequence % WINDOW_SEQUENCES;
  bits[i >>> 5]! |= 1 << (i & 31);
}

function clearBit(bits: Uint32Array, sequence: number): void {
  const i = sequence % WINDOW_SEQUENCES;
  bits[i >>> 5]! &= ~(1 << (i & 31));
}
