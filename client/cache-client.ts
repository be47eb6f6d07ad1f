/**
 * `client.cache`: put, get and delete on the broker's key-value cache. Each call validates its
 * arguments, encodes its frame once, and hands it with its reply to the dispatcher, which picks a cache
 * stream; the answer comes back on that stream and is matched by request_id, in whatever order answers
 * arrive. Per request: one frame, one reply object (holding the promise), no closure, no timer.
 */
import { shownName } from '../config/shown-name.js';
import { FEATURE_CACHE_DELETE, HEADER_BYTES, supportsFeature, type FrameAllocator } from '../wire/index.js';
import type { CacheDispatcher } from './cache-dispatcher.js';
import { CacheTarget, encodeCacheLookup, encodeCachePut } from '../wire/cache-request-writer.js';
import { CacheDeleteReply, CacheGetReply, CachePutReply, type CacheReply } from './cache-reply.js';
import { describeArgument } from './arguments.js';
import { FelixError, toFelixError, unsentError, withContext } from './errors.js';
import type { Negotiated } from './negotiation.js';
import type { Payload } from './publisher.js';

export interface CachePutOptions {
  /** Time to live in milliseconds (a positive integer); absent or null: the entry never expires. */
  ttlMs?: number | null;
}

export interface CacheClientOptions {
  readonly tenant: string;
  /**
   * The client's FELIX_MAX_FRAME_BYTES: a request that would not fit one frame fails before it is sent (the
   * broker's, when smaller, is applied by the cache stream the request goes on).
   */
  readonly maxFrameBytes: number;
  /** Where put frames are made (the client's FrameRecycler: they come back once the put succeeded). */
  readonly allocate: FrameAllocator;
}

export class CacheClient {
  private readonly targets = new Map<string, Map<string, CacheTarget>>();
  private readonly msgpack: boolean;
  private readonly deleteSupported: boolean;
  private closed: FelixError | null = null;

  /** @internal FelixClient builds it once the broker said what it supports. */
  constructor(
    private readonly dispatcher: CacheDispatcher,
    negotiated: Negotiated,
    private readonly options: CacheClientOptions,
  ) {
    this.msgpack = negotiated.msgpack;
    this.deleteSupported = supportsFeature(negotiated.features, FEATURE_CACHE_DELETE);
  }

  /**
   * Stores `value` (bytes, or a string as UTF-8) under `key`, replacing what was there. Resolves once the
   * broker stored it. The value is copied before this returns: the caller may reuse its buffer at once.
   * Rejects with `limit_exceeded` when the broker's key or value limit refuses it.
   */
  put(
    namespace: string,
    cache: string,
    key: string,
    value: Payload,
    options?: CachePutOptions,
  ): Promise<void> {
    try {
      const target = this.target(namespace, cache, key);
      const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
      if (!(bytes instanceof Uint8Array)) {
        throw new FelixError('invalid_argument', 'a cache value must be a Uint8Array or a string');
      }
      const ttlMs = ttlOf(options);
      const requestId = this.dispatcher.nextRequestId();
      const frame = encodeCachePut(target, key, bytes, requestId, ttlMs, this.msgpack, this.options.allocate);
      return this.submit(new CachePutReply(target, key, this.dispatcher), frame, requestId);
    } catch (error) {
      return Promise.reject(
        toFelixError(error, 'invalid_argument', `cache put of ${shownName(String(key))}`),
      );
    }
  }

  /** The value stored under `key`, or undefined when there is none (never stored, deleted, expired, evicted). */
  get(namespace: string, cache: string, key: string): Promise<Uint8Array | undefined> {
    return this.lookup('cache_get', CacheGetReply, namespace, cache, key);
  }

  /** Removes `key`; resolves true when it held a live entry, false when there was nothing to remove. */
  delete(namespace: string, cache: string, key: string): Promise<boolean> {
    if (!this.deleteSupported) {
      return Promise.reject(
        new FelixError('broker_error', 'the broker does not support cache_delete (no CACHE_DELETE feature)'),
      );
    }
    return this.lookup('cache_delete', CacheDeleteReply, namespace, cache, key);
  }

  /** Requests sent so far on each cache stream; stream i is on cache connection i mod FELIX_CACHE_CONN_POOL. */
  sentPerStream(): readonly number[] {
    return this.dispatcher.sentPerLane();
  }

  /**
   * @internal Requests from now on fail with `not_connected`; so do those waiting for a stream slot — with
   * `reason` instead when the client gave up on the broker, saying they were on no connection yet (never
   * sent: class `retry`), since `reason` names the connection whose attempts ran out.
   */
  close(reason?: FelixError): void {
    this.closed ??= new FelixError('not_connected', 'the client is closed');
    this.dispatcher.close(
      reason === undefined
        ? this.closed
        : unsentError(withContext(reason, 'cache request waiting for a free cache stream')),
    );
  }

  private submit<T>(reply: CacheReply<T>, frame: Buffer, requestId: number): Promise<T> {
    if (frame.byteLength - HEADER_BYTES > this.options.maxFrameBytes) {
      throw new FelixError(
        'payload_too_large',
        `${reply.what}: a frame of ${frame.byteLength - HEADER_BYTES} bytes exceeds FELIX_MAX_FRAME_BYTES ` +
          `(${this.options.maxFrameBytes})`,
      );
    }
    this.dispatcher.submit(reply, frame, requestId);
    return reply.promise;
  }

  /** A request naming only a key: cache_get or cache_delete. */
  private lookup<T>(
    op: 'cache_get' | 'cache_delete',
    Reply: new (target: CacheTarget, key: string, slots: CacheDispatcher) => CacheReply<T>,
    namespace: string,
    cache: string,
    key: string,
  ): Promise<T> {
    try {
      const target = this.target(namespace, cache, key);
      const requestId = this.dispatcher.nextRequestId();
      const frame = encodeCacheLookup(op, target, key, requestId, this.msgpack);
      return this.submit(new Reply(target, key, this.dispatcher), frame, requestId);
    } catch (error) {
      return Promise.reject(toFelixError(error, 'invalid_argument', `${op} of ${shownName(String(key))}`));
    }
  }

  /** The cache's target, validated and built once. */
  private target(namespace: string, cache: string, key: string): CacheTarget {
    if (this.closed !== null) throw this.closed;
    if (typeof key !== 'string') throw new FelixError('invalid_argument', 'a cache key must be a string');
    // The broker refuses an empty key (invalid_request): said at the call, before anything is sent.
    if (key === '') throw new FelixError('invalid_argument', 'a cache key must not be empty');
    // A lone surrogate has no UTF-8 form: encoding would turn it into U+FFFD, another key.
    if (!key.isWellFormed())
      throw new FelixError('invalid_argument', 'a cache key must be well-formed Unicode (no lone surrogate)');
    let caches = this.targets.get(namespace);
    if (caches === undefined) {
      if (typeof namespace !== 'string' || namespace === '') {
        throw new FelixError('invalid_argument', 'the namespace must be a non-empty string');
      }
      caches = new Map();
      this.targets.set(namespace, caches);
    }
    let target = caches.get(cache);
    if (target === undefined) {
      if (typeof cache !== 'string' || cache === '') {
        throw new FelixError('invalid_argument', 'the cache name must be a non-empty string');
      }
      target = new CacheTarget(this.options.tenant, namespace, cache);
      caches.set(cache, target);
    }
    return target;
  }
}

function ttlOf(options: CachePutOptions | undefined): number | null {
  const ttl = options?.ttlMs;
  if (ttl === undefined || ttl === null) return null;
  if (!Number.isSafeInteger(ttl) || ttl <= 0) {
    throw new FelixError(
      'invalid_argument',
      `ttlMs must be a positive integer or null, got ${describeArgument(ttl)}`,
    );
  }
  return ttl;
}
