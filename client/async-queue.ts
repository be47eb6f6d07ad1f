/**
 * A single-consumer queue that is also an async iterator, in the style of nats.js: producers push
 * synchronously; a waiting consumer is handed an item directly; one promise per next() call, never one
 * per queued item. A subscription uses it as its local buffer between the network and an async-iterating
 * consumer, bounded by FELIX_CLIENT_SUB_QUEUE_CAPACITY with FELIX_CLIENT_SUB_QUEUE_POLICY:
 *
 * - `drop_new`: a full queue discards the arriving event;
 * - `drop_old`: a full queue discards its oldest event to make room;
 * - `block`: nothing is dropped; reaching capacity calls `onFull` (the subscription pauses its QUIC stream,
 *   so flow control pushes back on the broker, whose own queue policy then applies), and draining to half
 *   capacity calls `onRoom` (it resumes). Events already received when the queue filled are still queued,
 *   so under `block` it may exceed capacity by what one read from the transport delivered.
 */
import type { QUEUE_POLICIES } from '../config/shared-settings.js';

export type QueuePolicy = (typeof QUEUE_POLICIES)[number];

export interface AsyncQueueOptions<T> {
  /** Most items queued; default unbounded. */
  capacity?: number;
  /** What a full queue does; default drop_new. */
  policy?: QueuePolicy;
  onFull?: () => void;
  onRoom?: () => void;
  /** Told of each item as it is handed to the consumer (not of items dropped or discarded). */
  onTake?: (item: T) => void;
}

export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  readonly capacity: number;
  readonly policy: QueuePolicy;
  /** Items this queue discarded (drop policies). */
  dropped = 0;
  private items: (T | undefined)[] = [];
  private head = 0;
  private waiter: ((result: IteratorResult<T>) => void) | null = null;
  private failer: ((error: Error) => void) | null = null;
  private ended = false;
  private error: Error | null = null;
  private full = false;
  private readonly lowWater: number;

  constructor(private readonly options: AsyncQueueOptions<T> = {}) {
    this.capacity = options.capacity ?? Infinity;
    this.policy = options.policy ?? 'drop_new';
    this.lowWater = Math.floor(this.capacity / 2);
  }

  get length(): number {
    return this.items.length - this.head;
  }

  /** Ended and read to the end (its error, if any, delivered): a consumer has nothing more to get. */
  get exhausted(): boolean {
    return this.ended && this.length === 0 && this.error === null;
  }

  /** True between onFull and onRoom (block policy). */
  get isFull(): boolean {
    return this.full;
  }

  /** Queues an item (or hands it to a waiting consumer); returns how many items were dropped (0 or 1). */
  push(item: T): number {
    if (this.ended) return 0;
    const waiter = this.waiter;
    if (waiter !== null) {
      this.waiter = null;
      this.failer = null;
      this.options.onTake?.(item);
      waiter({ value: item, done: false });
      return 0;
    }
    if (this.length >= this.capacity) {
      if (this.policy === 'drop_new') {
        this.dropped++;
        return 1;
      }
      if (this.policy === 'drop_old') {
        this.items[this.head++] = undefined;
        this.items.push(item);
        this.dropped++;
        this.compact();
        return 1;
      }
    }
    this.items.push(item);
    if (this.policy === 'block' && !this.full && this.length >= this.capacity) {
      this.full = true;
      this.options.onFull?.();
    }
    return 0;
  }

  /** Ends iteration after what is queued; with an error, the consumer's next() rejects with it then. */
  end(error?: Error): void {
    if (this.ended) return;
    this.ended = true;
    if (error !== undefined) this.error = error;
    if (this.waiter !== null && this.length === 0) this.settleEnd();
  }

  /** Discards what is queued (the consumer stopped). */
  clear(): void {
    this.items = [];
    this.head = 0;
    this.releaseFull();
  }

  next(): Promise<IteratorResult<T>> {
    if (this.head < this.items.length) {
      const value = this.items[this.head] as T;
      this.items[this.head++] = undefined;
      if (this.head === this.items.length) {
        this.items.length = 0;
        this.head = 0;
      }
      if (this.full && this.length <= this.lowWater) this.releaseFull();
      this.options.onTake?.(value);
      return Promise.resolve({ value, done: false });
    }
    if (this.ended) {
      const error = this.error;
      this.error = null;
      return error !== null ? Promise.reject(error) : Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => {
      this.waiter = resolve;
      this.failer = reject;
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.ended = true;
    this.clear();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  private releaseFull(): void {
    if (!this.full) return;
    this.full = false;
    this.options.onRoom?.();
  }

  // drop_old advances the head without the consumer draining the array: reclaim the dead prefix once it
  // is as long as the live part, so the copy is amortised over as many pushes.
  private compact(): void {
    if (this.head >= this.capacity) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  private settleEnd(): void {
    const resolve = this.waiter!;
    const reject = this.failer!;
    this.waiter = null;
    this.failer = null;
    const error = this.error;
    this.error = null;
    if (error !== null) reject(error);
    else resolve({ value: undefined, done: true });
  }
}
