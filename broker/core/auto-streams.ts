import type { ErrorSite } from './ports.js';
import type { Topic } from './topic.js';

/** The shortest and longest period between two looks for idle streams, and the step between periods. */
const LOOK_MIN_MS = 250;
const LOOK_MAX_MS = 5_000;

/**
 * How often the broker looks for idle auto-created streams under FELIX_STREAM_IDLE_TIMEOUT_MS `timeoutMs`:
 * a tenth of it in steps of 250 ms (the broker's sweep tick), between 250 ms and 5 s. A stream is removed
 * between `timeoutMs` and `timeoutMs` plus two periods after it was last used (docs/configuration.md says
 * so): the look after its last use notes it, and the look `timeoutMs` after that removes it.
 */
export function idleLookPeriodMs(timeoutMs: number): number {
  const tenth = Math.floor(timeoutMs / 10 / LOOK_MIN_MS) * LOOK_MIN_MS;
  return Math.min(LOOK_MAX_MS, Math.max(LOOK_MIN_MS, tenth));
}

/** One auto-created stream, watched for idleness without any cost on its publish path. */
interface Watched {
  readonly key: string;
  readonly topic: Topic;
  /** Durable streams keep their history on disk: counted, never removed. */
  readonly removable: boolean;
  /** topic.publishedEvents at the last look: unchanged means no publish since. */
  seenEvents: number;
  /** Whether it had a subscriber at the last look: one that left since used it until it left. */
  hadSubscriber: boolean;
  /** The look that last found it in use (a subscriber, events pending, a publish), or the first look after it was created. */
  usedAtLook: number;
}

/** One tenant's auto-created streams: how many, and the look at which the soonest idle one goes. */
interface TenantStreams {
  count: number;
  /** The look removing the soonest stream that had no subscriber at the last look; Infinity: none will. */
  soonestRemovalLook: number;
}

/**
 * The streams tenants created by naming them: counted per tenant (FELIX_MAX_AUTO_STREAMS_PER_TENANT) and,
 * in memory, removed when idle for FELIX_STREAM_IDLE_TIMEOUT_MS. Idleness is seen at periodic looks, never
 * on the publish path: a look compares each stream's publish count with the one before.
 */
export class AutoStreams {
  /** The period between looks (idleLookPeriodMs); 0: streams are never removed. */
  readonly lookPeriodMs: number;
  private readonly looksToRemove: number;
  private readonly streams = new Map<string, Watched>();
  private readonly tenants = new Map<string, TenantStreams>();
  private looks = 0;
  private lastLookAt: number;

  constructor(
    timeoutMs: number,
    private readonly now: () => number,
    /** Forgets a removed stream everywhere else (the registry's map). */
    private readonly forget: (key: string) => void,
  ) {
    this.lookPeriodMs = timeoutMs === 0 ? 0 : idleLookPeriodMs(timeoutMs);
    this.looksToRemove = timeoutMs === 0 ? Infinity : Math.ceil(timeoutMs / this.lookPeriodMs);
    this.lastLookAt = now();
  }

  /** Auto-created streams of `tenant`. */
  count(tenant: string): number {
    return this.tenants.get(tenant)?.count ?? 0;
  }

  /** A stream `tenant` just created by naming it; `removable` unless it is durable. */
  add(key: string, topic: Topic, removable: boolean): void {
    const usedAtLook = this.looks + 1;
    const seenEvents = topic.publishedEvents;
    this.streams.set(key, { key, topic, removable, seenEvents, hadSubscriber: false, usedAtLook });
    const tenant = this.tenants.get(topic.tenant) ?? { count: 0, soonestRemovalLook: Infinity };
    tenant.count++;
    // It has no subscriber yet: unless used, it goes `looksToRemove` looks after the next one.
    if (removable)
      tenant.soonestRemovalLook = Math.min(tenant.soonestRemovalLook, usedAtLook + this.looksToRemove);
    this.tenants.set(topic.tenant, tenant);
  }

  /**
   * What a refusal at `tenant`'s limit says beyond limit_exceeded: `retry_after` with when its soonest
   * idle stream goes (as of the last look) when it has one, else nothing (the code's `fatal`: every one of
   * its streams had a subscriber, or none is ever removed).
   */
  limitRefusal(tenant: string): ErrorSite | undefined {
    const soonest = this.tenants.get(tenant)?.soonestRemovalLook ?? Infinity;
    if (soonest === Infinity) return undefined;
    const dueAt = this.lastLookAt + (soonest - this.looks) * this.lookPeriodMs;
    return { retry: 'retry_after', detail: { retry_after_ms: Math.max(0, Math.ceil(dueAt - this.now())) } };
  }

  /**
   * One look (every lookPeriodMs): removes the in-memory streams not in use since FELIX_STREAM_IDLE_TIMEOUT_MS
   * and notes, per tenant, when the soonest of the others goes. Costs one pass over the auto-created streams.
   */
  look(): number {
    if (this.lookPeriodMs === 0) return 0;
    const look = ++this.looks;
    this.lastLookAt = this.now();
    for (const t of this.tenants.values()) t.soonestRemovalLook = Infinity;
    let removed = 0;
    for (const s of this.streams.values()) {
      if (!s.removable) continue;
      const topic = s.topic;
      const subscribed = topic.subscribers.length !== 0;
      const published = topic.publishedEvents !== s.seenEvents;
      // Idleness is never overstated: whatever used it since the last look may have done so just now.
      if (subscribed || s.hadSubscriber || published || topic.pendingEvents !== 0) s.usedAtLook = look;
      s.seenEvents = topic.publishedEvents;
      s.hadSubscriber = subscribed;
      const removalLook = s.usedAtLook + this.looksToRemove;
      if (look >= removalLook) {
        this.remove(s);
        removed++;
      } else if (!subscribed) {
        const tenant = this.tenants.get(topic.tenant)!;
        tenant.soonestRemovalLook = Math.min(tenant.soonestRemovalLook, removalLook);
      }
    }
    return removed;
  }

  private remove(s: Watched): void {
    this.streams.delete(s.key);
    this.forget(s.key);
    const tenant = this.tenants.get(s.topic.tenant)!;
    if (--tenant.count === 0) this.tenants.delete(s.topic.tenant);
  }
}
