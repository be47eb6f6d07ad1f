/**
 * A single-consumer queue that is also an async iterator, in the style of nats.js: producers push
 * synchronously; the consumer drains a whole array per wake-up, swapping arrays instead of allocating.
 * One promise per wake-up of an idle consumer, never one per item.
 */
export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  private items: T[] = [];
  private spare: T[] = [];
  private index = 0;
  private waiter: ((r: IteratorResult<T>) => void) | null = null;
  private failer: ((e: Error) => void) | null = null;
  private ended = false;
  private error: Error | null = null;

  get length(): number {
    return this.items.length - this.index;
  }

  push(item: T): void {
    if (this.ended) return;
    const w = this.waiter;
    if (w !== null) {
      this.waiter = null;
      this.failer = null;
      w({ value: item, done: false });
      return;
    }
    this.items.push(item);
  }

  /** Ends iteration after what is queued; with an error, the consumer's next() rejects with it. */
  end(error?: Error): void {
    if (this.ended) return;
    this.ended = true;
    if (error !== undefined) this.error = error;
    if (this.waiter !== null && this.length === 0) this.settleEnd();
  }

  next(): Promise<IteratorResult<T>> {
    if (this.index < this.items.length) {
      const value = this.items[this.index++]!;
      if (this.index === this.items.length) this.swap();
      return Promise.resolve({ value, done: false });
    }
    if (this.ended) {
      const e = this.error;
      this.error = null;
      return e !== null ? Promise.reject(e) : Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => {
      this.waiter = resolve;
      this.failer = reject;
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.ended = true;
    this.items.length = 0;
    this.index = 0;
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  private swap(): void {
    const drained = this.items;
    drained.length = 0;
    this.items = this.spare;
    this.spare = drained;
    this.index = 0;
  }

  private settleEnd(): void {
    const w = this.waiter!;
    const f = this.failer!;
    this.waiter = null;
    this.failer = null;
    const e = this.error;
    this.error = null;
    if (e !== null) f(e);
    else w({ value: undefined, done: true });
  }
}
