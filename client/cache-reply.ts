/**
 * One cache request's promise, settled by the stream's answer (matched by request_id before it gets
 * here): the answer is turned into the caller's value, an `error` answer into a FelixError. It is the
 * only object a request allocates besides its frame; it also frees its stream slot when it settles,
 * however it settles (answer, error, timeout, stream lost), so the in-flight bound cannot leak.
 */
import { quotedName, shownPath } from '../config/shown-name.js';
import type { DecodedFrame } from '../wire/index.js';
import type { KeyOrder } from './cache-dispatcher.js';
import type { CacheOp, CacheTarget } from '../wire/cache-request-writer.js';
import { FelixError, brokerError } from './errors.js';
import type { Settleable } from './pending-requests.js';

/** Whoever hands out stream slots: told once when `request`, sent on `lane`, no longer occupies it. */
export interface SlotOwner {
  release(lane: number, request: SlottedRequest): void;
}

/** What the dispatcher sees of a request: where it is sent, or what it waits to send. */
export interface SlottedRequest extends Settleable {
  readonly settled: boolean;
  /** The stream slot it occupies; -1 while it waits for one (and then `frame` holds what to send). */
  lane: number;
  frame: Buffer | null;
  requestId: number;
  /** When it started waiting for a slot (Date.now()). */
  waitingSince: number;
  /** How often it is sent again when its connection is lost while it is in flight. */
  readonly retries: number;
  /** The cache it addresses (one object per cache) and its key: requests of one key keep their order. */
  readonly target: object;
  readonly key: string;
  /** Set by the dispatcher while the request is waiting or in flight. */
  keyOrder: KeyOrder | null;
}

/** accept()'s answer for a message that does not answer this kind of request. */
const UNEXPECTED = Symbol('unexpected answer');
type Accepted<T> = T | typeof UNEXPECTED;

// The Promise executor runs synchronously inside `new Promise`: one shared function hands the settlers
// over through these slots, so a request allocates no executor closure of its own.
let capturedResolve: ((value: never) => void) | null = null;
let capturedReject: ((error: Error) => void) | null = null;
function captureSettlers(resolve: (value: never) => void, reject: (error: Error) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

export abstract class CacheReply<T> implements SlottedRequest {
  readonly promise: Promise<T>;
  abstract readonly op: CacheOp;
  abstract readonly retries: number;
  settled = false;
  lane = -1;
  frame: Buffer | null = null;
  requestId = 0;
  waitingSince = 0;
  keyOrder: KeyOrder | null = null;
  private resolveFn!: (value: T) => void;
  private rejectFn!: (error: Error) => void;

  constructor(
    readonly target: CacheTarget,
    readonly key: string,
    private readonly slots: SlotOwner,
  ) {
    this.promise = new Promise<T>(captureSettlers);
    this.resolveFn = capturedResolve as (value: T) => void;
    this.rejectFn = capturedReject!;
  }

  /** Names the request in errors; built only when an error needs it. */
  get what(): string {
    const { tenant, namespace, cache } = this.target;
    return `${this.op} of key ${quotedName(this.key)} in ${shownPath(tenant, namespace, cache)}`;
  }

  /** The broker's answer (a decoded message whose byte fields the reply may keep). */
  partDone(answer: unknown): void {
    if (this.settled) return;
    const message = answer as DecodedFrame;
    if (message.type === 'error') {
      const code = message.code === 'limit_exceeded' ? 'limit_exceeded' : 'broker_error';
      this.fail(brokerError(code, `${this.what} refused`, message));
      return;
    }
    const value = this.accept(message);
    if (value === UNEXPECTED) {
      this.fail(new FelixError('protocol_error', `${this.what}: the broker answered with ${message.type}`));
      return;
    }
    this.settled = true;
    this.freeSlot();
    this.resolveFn(value);
  }

  fail(error: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.frame = null;
    this.freeSlot();
    this.rejectFn(error);
  }

  protected abstract accept(message: DecodedFrame): Accepted<T>;

  private freeSlot(): void {
    const lane = this.lane;
    if (lane < 0) return;
    this.lane = -1;
    this.slots.release(lane, this);
  }
}

/** A put or delete leaves the same state however often it is applied: retried until it is answered. */
const WRITE_RETRIES = Number.POSITIVE_INFINITY;
/** A read is retried once: an application that still needs it after a second lost connection asks again. */
const READ_RETRIES = 1;

export class CachePutReply extends CacheReply<void> {
  readonly op = 'cache_put';
  readonly retries = WRITE_RETRIES;

  protected accept(message: DecodedFrame): Accepted<void> {
    return message.type === 'cache_ok' ? undefined : UNEXPECTED;
  }
}

export class CacheGetReply extends CacheReply<Uint8Array | undefined> {
  readonly op = 'cache_get';
  readonly retries = READ_RETRIES;

  protected accept(message: DecodedFrame): Accepted<Uint8Array | undefined> {
    if (message.type !== 'cache_value') return UNEXPECTED;
    return message.value ?? undefined;
  }
}

export class CacheDeleteReply extends CacheReply<boolean> {
  readonly op = 'cache_delete';
  readonly retries = WRITE_RETRIES;

  protected accept(message: DecodedFrame): Accepted<boolean> {
    // The broker answers a delete with the value it removed, null when there was none.
    return message.type === 'cache_value' ? message.value !== null : UNEXPECTED;
  }
}
