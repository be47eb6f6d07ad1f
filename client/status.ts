/**
 * `client.status()`: what happens to the client's connections, as events in the order they happen (as
 * nats.js reports them). Each pooled connection (publish, event and cache pools, numbered from 0) goes
 * through
 *
 *   [draining →] disconnect → reconnecting (attempt 1) → … → reconnecting (attempt n) → reconnect | error
 *
 * `draining`: the broker said it is shutting down (lame duck); `disconnect`: the connection was lost (or
 * could not be opened); `reconnecting`: attempt n will be made after `delayMs` (with `error`, why attempt
 * n − 1 failed); `reconnect`: a new
 * connection replaced it and a stream authenticated on it (one whose auth the broker refused was a failed
 * attempt); `error`: the client gave up (FELIX_RECONNECT_ATTEMPTS ran out on this connection, or the broker
 * refused the same token on two attempts in a row, or either happened on another connection while this one
 * was reconnecting: each connection's error says which, and why its own latest attempt failed) and closes,
 * or a subscription could not be resumed and ended.
 */
import type { FelixError } from './errors.js';

/** Which connection an event is about: its pool ("publish", "event", "cache") and index in the pool. */
export interface ConnectionRef {
  readonly pool: string;
  readonly connection: number;
}

export type StatusEvent =
  | (ConnectionRef & { readonly type: 'draining' })
  | (ConnectionRef & { readonly type: 'disconnect'; readonly error: FelixError })
  | (ConnectionRef & {
      readonly type: 'reconnecting';
      readonly attempt: number;
      readonly delayMs: number;
      /** Why the previous attempt failed (absent on attempt 1: the `disconnect` before it says why). */
      readonly error?: FelixError;
    })
  | (ConnectionRef & { readonly type: 'reconnect'; readonly attempts: number })
  | (Partial<ConnectionRef> & { readonly type: 'error'; readonly error: FelixError });

export type StatusType = StatusEvent['type'];

// A reader that stops reading must not make the client hold events without bound: beyond this many
// unread events an iterator drops its oldest.
const MAX_UNREAD = 10_000;

class StatusReader implements AsyncIterableIterator<StatusEvent> {
  private readonly unread: StatusEvent[] = [];
  private waiter: ((result: IteratorResult<StatusEvent>) => void) | null = null;
  private done = false;

  constructor(private readonly leave: (reader: StatusReader) => void) {}

  push(event: StatusEvent): void {
    if (this.done) return;
    const waiter = this.waiter;
    if (waiter !== null) {
      this.waiter = null;
      waiter({ value: event, done: false });
      return;
    }
    if (this.unread.length >= MAX_UNREAD) this.unread.shift();
    this.unread.push(event);
  }

  /** No more events: what is unread is still read, then the iteration ends. */
  finish(): void {
    this.done = true;
    const waiter = this.waiter;
    this.waiter = null;
    if (waiter !== null && this.unread.length === 0) waiter({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<StatusEvent>> {
    const event = this.unread.shift();
    if (event !== undefined) return Promise.resolve({ value: event, done: false });
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.waiter = resolve));
  }

  return(): Promise<IteratorResult<StatusEvent>> {
    this.unread.length = 0;
    this.leave(this);
    this.finish();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<StatusEvent> {
    return this;
  }
}

/** Fans status events out to every iterator open at the time. */
export class StatusHub {
  private readonly readers = new Set<StatusReader>();
  private ended = false;

  /** An iterator of the events from now on; it ends when the client is closed. */
  reader(): AsyncIterableIterator<StatusEvent> {
    const reader = new StatusReader((r) => this.readers.delete(r));
    if (this.ended) reader.finish();
    else this.readers.add(reader);
    return reader;
  }

  emit(event: StatusEvent): void {
    for (const reader of this.readers) reader.push(event);
  }

  /** The client is closed: every iterator ends after its unread events. */
  end(): void {
    this.ended = true;
    for (const reader of this.readers) reader.finish();
    this.readers.clear();
  }
}
