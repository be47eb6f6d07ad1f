/**
 * A fixed number of QUIC connections of one family (publish, event or cache) on one client endpoint, so
 * the family's windows are real transport settings. Slots connect lazily, on first use.
 *
 * Reconnect. Once the client is connected (arm()), a slot whose connection is lost reopens it by itself
 * if it carries work (PoolListener.holds: an event slot with no subscription left waits, silently, for its
 * next use), with jittered exponential backoff (client/backoff.ts), and reports each step as a status event:
 * `disconnect`, `reconnecting` per attempt, then `reconnect` — or `error` when FELIX_RECONNECT_ATTEMPTS
 * ran out. Meanwhile get() hands out the connection to come, so new work waits for it instead of failing.
 * A reconnect counts once a stream authenticated on the new connection (confirmed()), not at the QUIC
 * handshake: a new connection whose auth the broker refuses (refused()) — a revoked or missing credential,
 * a restarted broker with other keys — is closed and counts as a failed attempt, so the attempts back off
 * and run out instead of starting over at attempt 1 on every handshake. The same refusal of the same token
 * on two attempts in a row ends the reconnect at once with that refusal, as nats.js aborts on a repeated
 * auth error: a fixed token that expired is refused forever, and waiting for the attempts to run out (by
 * default never) would hide why. A token provider that returns a new token keeps the attempts going.
 * Listeners (the worker pool, the subscriber) hear that a slot was lost, restored or given up, and move
 * what ran on it over. A broker that announces `draining` (lame duck) gets no new work: its slot already
 * waits for the next connection, which is sought once the broker closed the old one.
 *
 * Before arm() (while connect() checks the broker) nothing is retried: a failure is reported at once.
 */
import {
  ConnectTimeoutError,
  TransportError,
  type CloseInfo,
  type Connection,
  type Endpoint,
} from '../transport/index.js';
import { attemptAllowed, reconnectDelay, type ReconnectPolicy } from './backoff.js';
import { CONNECTION_CODE_NO_ERROR, CONNECTION_CODE_REFUSED } from '../wire/index.js';
import { refusedToken } from './broker-stream.js';
import { FelixError } from './errors.js';
import type { StatusEvent } from './status.js';

/** What a pool runs on each connection (request streams, an event router); told when it closes. */
export interface ConnectionTenant {
  onConnectionClosed(error: FelixError): void;
}

export interface ConnectionPoolOptions<T extends ConnectionTenant> {
  /** Names the pool in errors ("publish connection 2") and status events ("publish"). */
  readonly name: string;
  readonly size: number;
  /** The family's endpoint, created on first use. */
  readonly endpoint: () => Promise<Endpoint>;
  /** Bound on one QUIC handshake. */
  readonly connectTimeoutMs: number;
  /** Sets up what runs on a new connection. */
  readonly attach: (connection: Connection, index: number) => T;
  /** How lost connections are reopened once armed; absent: never (a lost slot reconnects on next use). */
  readonly reconnect?: ReconnectPolicy;
  /** Receives the status events of this pool's connections. */
  readonly onStatus?: (event: StatusEvent) => void;
  /** Random numbers for the backoff's jitter (tests make it predictable). */
  readonly random?: () => number;
  /**
   * Whether the client is in an outage (one of its connections is reconnecting): a slot's first connection
   * opened meanwhile is then held to a reconnect's rule — a refused auth on it is a failed attempt and what
   * waits for it keeps waiting — since a broker that came back with other keys refuses every connection.
   */
  readonly outage?: () => boolean;
  /**
   * Told when a slot's first connection, opened after connect() (a second publish connection, say), fails:
   * it is then sought as a lost one is, and what was placed on it waits — a broker's connection limit must
   * not hold work back unseen by an application that reads no status events.
   */
  readonly onWarning?: (message: string) => void;
  /** Tokens come from a tokenProvider (not a fixed token): a repeated refusal's message then says so. */
  readonly tokenProvider?: boolean;
}

export interface PooledConnection<T> {
  readonly connection: Connection;
  readonly tenant: T;
  readonly index: number;
  /** The broker announced `draining` on this connection: it gets no new work. */
  draining: boolean;
}

/** What moves work between the connections of one slot. Every method is optional. */
export interface PoolListener<T> {
  /**
   * Slot `index` lost its connection. `resuming`: a new one is being sought (keep what is outstanding);
   * otherwise it fails.
   */
  lost?(index: number, error: FelixError, resuming: boolean): void;
  /** Slot `index` has a new connection (after lost(…, true)). */
  restored?(entry: PooledConnection<T>): void;
  /** Slot `index` will not be reconnected (attempts ran out, or the client closed). */
  gaveUp?(index: number, error: FelixError): void;
  /** The broker announced draining on slot `index`'s connection: send it no new work. */
  draining?(index: number): void;
  /**
   * Whether slot `index` still carries this listener's work. A lost connection is reopened only for a slot
   * some listener says it needs (or when no listener answers): an idle one waits for its next use, since
   * the broker closes a connection that authenticates no stream (FELIX_AUTH_TIMEOUT_MS).
   */
  holds?(index: number): boolean;
}

/** The connection a slot is waiting for, and the loop that looks for it. */
interface Recovery<T> {
  readonly promise: Promise<PooledConnection<T>>;
  resolve(entry: PooledConnection<T>): void;
  reject(error: FelixError): void;
  started: boolean;
  /** The slot's first connection is being opened (not a reconnect): close() lets it finish. */
  firstTry: boolean;
  /** Reconnect attempts made so far, and why the latest failed (or why the connection was lost). */
  attempts: number;
  lastError: FelixError | null;
}

interface Slot<T> {
  /** What get() returns: the connection, the attempt to open it, or the reconnect in progress. */
  promise: Promise<PooledConnection<T>> | undefined;
  live: PooledConnection<T> | undefined;
  recovery: Recovery<T> | null;
  /** A reconnect's new connection on which no stream has authenticated yet, and the attempts it took. */
  unconfirmed: { readonly entry: PooledConnection<T>; readonly attempts: number } | null;
  /** Attempts an unconfirmed connection's loss carries into the next round of the same reconnect. */
  carriedAttempts: number;
  /** Why the unconfirmed connection was closed (the broker's refusal), for the give-up's message. */
  refusal: FelixError | null;
  /**
   * The auth refusal of the latest failed attempt, with the token it refused; cleared by an attempt failing
   * otherwise and by a reconnect confirmed. Two alike in a row end the reconnect (repeatedRefusal).
   */
  lastRefusal: {
    readonly connection: Connection;
    readonly key: string;
    readonly token: string | undefined;
  } | null;
  /** Set when a refusal repeated: the reconnect gives up with it instead of trying again. */
  abort: FelixError | null;
}

export class ConnectionPool<T extends ConnectionTenant> {
  private readonly slots: Slot<T>[];
  private readonly listeners: PoolListener<T>[] = [];
  private readonly sleeps = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();
  private cursor = 0;
  private closed = false;
  private armed = false;

  constructor(private readonly options: ConnectionPoolOptions<T>) {
    this.slots = Array.from({ length: options.size }, () => ({
      promise: undefined,
      live: undefined,
      recovery: null,
      unconfirmed: null,
      carriedAttempts: 0,
      refusal: null,
      lastRefusal: null,
      abort: null,
    }));
  }

  get size(): number {
    return this.options.size;
  }

  get name(): string {
    return this.options.name;
  }

  /** Some slot is reconnecting: in its attempts, or reconnected with no stream authenticated yet. */
  get recovering(): boolean {
    for (const slot of this.slots) {
      if (slot.unconfirmed !== null) return true;
      const recovery = slot.recovery;
      if (recovery !== null && recovery.started && !recovery.firstTry) return true;
    }
    return false;
  }

  /** Connections currently established. */
  get connected(): readonly PooledConnection<T>[] {
    const out: PooledConnection<T>[] = [];
    for (const slot of this.slots) if (slot.live !== undefined) out.push(slot.live);
    return out;
  }

  /** Slot `index`'s established connection, if it has one now. */
  liveConnection(index: number): Connection | undefined {
    return this.slots[index]?.live?.connection;
  }

  /** The next slot in round-robin order. */
  nextIndex(): number {
    const index = this.cursor;
    this.cursor = index + 1 === this.options.size ? 0 : index + 1;
    return index;
  }

  /** From now on lost connections are reopened (the client is connected). */
  arm(): void {
    this.armed = true;
  }

  listen(listener: PoolListener<T>): void {
    this.listeners.push(listener);
  }

  /** The connection of slot `index`, connecting it first if needed (or the one a reconnect will bring). */
  get(index: number): Promise<PooledConnection<T>> {
    if (this.closed) {
      return Promise.reject(
        new FelixError('not_connected', `${this.options.name} pool: the client is closed`),
      );
    }
    const slot = this.slots[index]!;
    if (slot.promise !== undefined) return slot.promise;
    if (this.resuming) {
      // Armed: even a first connection is retried, so new work waits through an outage.
      const recovery = this.recoveryOf(slot);
      void this.recover(index, null);
      return recovery.promise;
    }
    const attempt = this.connect(index);
    slot.promise = attempt;
    // A failed attempt frees the slot, so the next use tries again.
    attempt.catch(() => {
      if (slot.promise === attempt) slot.promise = undefined;
    });
    return attempt;
  }

  /**
   * A stream authenticated on slot `index`'s `connection`: when that is a reconnect's new connection, the
   * reconnect is done (reported now).
   */
  confirmed(index: number, connection: Connection): void {
    const slot = this.slots[index];
    const unconfirmed = slot?.unconfirmed;
    if (unconfirmed == null || unconfirmed.entry.connection !== connection) return;
    slot!.unconfirmed = null;
    slot!.lastRefusal = null;
    // A first connection opened during an outage (attempts 0) replaces nothing: no episode to end.
    if (unconfirmed.attempts === 0) return;
    this.status({
      type: 'reconnect',
      pool: this.options.name,
      connection: index,
      attempts: unconfirmed.attempts,
    });
  }

  /**
   * The broker refused a stream's auth on slot `index`'s `connection`. When that is a reconnect's new
   * connection (no stream authenticated on it yet), the pool takes it as a failed attempt: it closes the
   * connection and goes on reconnecting — returns true, and the stream waits for the next connection as
   * after any loss — unless it repeats the previous attempt's refusal of the same token: then the
   * reconnect gives up with it once the connection is closed. Otherwise returns false: the refusal is the
   * stream's to report.
   */
  refused(index: number, connection: Connection, error: FelixError): boolean {
    const slot = this.slots[index];
    const unconfirmed = slot?.unconfirmed;
    if (unconfirmed == null || unconfirmed.entry.connection !== connection || this.closed) return false;
    slot!.refusal = error;
    slot!.abort ??= this.repeatedRefusal(slot!, index, connection, error, unconfirmed.attempts);
    connection.close(0, 'auth refused');
    return true;
  }

  /**
   * The give-up error when `error`, the broker's refusal of auth on `connection`, repeats the refusal of
   * the slot's previous attempt — the same code and reason, for the same token (a fixed token, or a
   * provider that returned the refused one again); null otherwise. A refusal the broker did not send (a
   * token provider that failed) never counts: the provider may do better next time.
   */
  private repeatedRefusal(
    slot: Slot<T>,
    index: number,
    connection: Connection,
    error: FelixError,
    attempts: number,
  ): FelixError | null {
    const previous = slot.lastRefusal;
    // Another stream refused on the same connection: the same attempt.
    if (previous?.connection === connection) return null;
    const key =
      error.brokerCode === undefined
        ? null
        : error.reason === undefined
          ? error.brokerCode
          : `${error.brokerCode}/${error.reason}`;
    const token = refusedToken(error);
    slot.lastRefusal = key === null ? null : { connection, key, token };
    if (key === null || previous === null || previous.key !== key || previous.token !== token) return null;
    return new FelixError(
      'auth_failed',
      `${this.options.name} connection ${index}: gave up after ${reconnectAttempts(attempts)}: the broker ` +
        `refused the same token on two attempts in a row (${key}; ` +
        (this.options.tokenProvider === true
          ? 'the tokenProvider returned it again'
          : 'a fixed token is never refreshed: use tokenProvider') +
        `): ${error.message}`,
      { cause: error, brokerCode: error.brokerCode, retry: error.retry, detail: error.detail },
    );
  }

  /**
   * The broker said `draining` on `connection` (slot `index`): report it once, and from now on hand out
   * the connection that will replace it. What runs on it finishes; the broker then closes it.
   */
  markDraining(index: number, connection: Connection): void {
    const slot = this.slots[index];
    const entry = slot?.live;
    if (entry === undefined || entry.connection !== connection || entry.draining) return;
    entry.draining = true;
    this.status({ type: 'draining', pool: this.options.name, connection: index });
    if (this.resuming) slot!.promise = this.recoveryOf(slot!).promise;
    for (const listener of this.listeners) listener.draining?.(index);
  }

  /**
   * Stops handing out connections and reconnecting; the caller closes the endpoint, which closes them all.
   * A slot still waiting for a new connection gives up at once: what waits on it fails with `reason`
   * (connection_closed: the client closed while it was reconnecting, unless a reason is given).
   */
  markClosed(reason?: FelixError): void {
    this.closed = true;
    for (const sleep of this.sleeps) {
      clearTimeout(sleep.timer);
      sleep.wake();
    }
    this.sleeps.clear();
    for (const [index, slot] of this.slots.entries()) {
      const recovery = slot.recovery;
      if (recovery === null) continue;
      // A slot's first connection, still being opened when close() began (slots connect on first use):
      // what was handed to it — unacknowledged publishes have no promise to fail — is flushed once it
      // opens, within the close timeout, as on any open connection. Only after a give-up (`reason`) not.
      if (recovery.firstTry && reason === undefined) continue;
      const error =
        reason === undefined
          ? new FelixError(
              'connection_closed',
              `${this.options.name} connection ${index}: the client closed while reconnecting`,
            )
          : this.givenUpWith(index, reason);
      // The client gave up (another connection's attempts ran out): this connection's episode ends with
      // `error` too, so every connection's events end where they began — documented per connection.
      if (reason !== undefined && recovery.started) {
        this.status({ type: 'error', pool: this.options.name, connection: index, error });
      }
      this.giveUp(index, recovery, error);
    }
  }

  /**
   * What ends the work on slot `index` when the client gives up for `reason` (a connection's attempts ran
   * out): named for this connection, since `reason` names another one. A slot still reconnecting gives its
   * own attempts and latest failure (its cause); any other — connected, perhaps without having noticed
   * the broker is gone, or its first connection still opening — only that it closed with the client.
   */
  givenUpWith(index: number, reason: FelixError): FelixError {
    const label = `${this.options.name} connection ${index}`;
    const recovery = this.slots[index]?.recovery ?? null;
    const own = recovery?.lastError ?? null;
    // An auth refusal carries the broker's code and class: this connection's token is the one refused too.
    const typed = { brokerCode: reason.brokerCode, retry: reason.retry };
    if (recovery === null || own === null) {
      return new FelixError(reason.code, `${label}: closed as the client gave up: ${reason.message}`, {
        cause: reason,
        ...typed,
      });
    }
    const why =
      reason.code === 'auth_failed'
        ? 'the broker refused the same token twice in a row on another connection'
        : 'FELIX_RECONNECT_ATTEMPTS ran out on another connection';
    return new FelixError(
      reason.code,
      `${label}: gave up after ${reconnectAttempts(recovery.attempts)}, with the client (${why}): ${own.message}`,
      { cause: own, ...typed },
    );
  }

  /** Settles slot `index`'s recovery with `error`: what waits for the slot fails. */
  private giveUp(index: number, recovery: Recovery<T>, error: FelixError): void {
    const slot = this.slots[index]!;
    if (slot.recovery !== recovery) return;
    slot.recovery = null;
    if (slot.promise === recovery.promise) slot.promise = undefined;
    recovery.reject(error);
    for (const listener of this.listeners) listener.gaveUp?.(index, error);
  }

  private get resuming(): boolean {
    return this.armed && !this.closed && this.options.reconnect !== undefined;
  }

  private status(event: StatusEvent): void {
    this.options.onStatus?.(event);
  }

  private recoveryOf(slot: Slot<T>): Recovery<T> {
    if (slot.recovery !== null) return slot.recovery;
    let resolve!: (entry: PooledConnection<T>) => void;
    let reject!: (error: FelixError) => void;
    const promise = new Promise<PooledConnection<T>>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Waiters see the outcome through their own get(); nobody may be waiting at all.
    promise.catch(() => undefined);
    const recovery: Recovery<T> = {
      promise,
      resolve,
      reject,
      started: false,
      firstTry: false,
      attempts: 0,
      lastError: null,
    };
    slot.recovery = recovery;
    slot.promise = promise;
    return recovery;
  }

  /**
   * Looks for a new connection for slot `index` until one opens or the attempts run out. `lost` is the
   * error that ended the previous connection; null for a slot's first connection, tried at once.
   */
  private async recover(index: number, lost: FelixError | null): Promise<void> {
    const slot = this.slots[index]!;
    const recovery = this.recoveryOf(slot);
    if (recovery.started) return;
    recovery.started = true;
    const policy = this.options.reconnect!;
    const pool = this.options.name;
    recovery.lastError = lost;
    if (lost === null) {
      recovery.firstTry = true;
      try {
        const entry = await this.connect(index, true);
        // Asked while this slot still counts as a first try (not as reconnecting itself).
        const inOutage = this.options.outage?.() === true;
        recovery.firstTry = false;
        this.restored(slot, recovery, entry, 0);
        if (inOutage) slot.unconfirmed = { entry, attempts: 0 };
        return;
      } catch (error) {
        recovery.firstTry = false;
        if (this.closed) {
          // close() left this first try to finish (see markClosed): it failed — the endpoint closing under
          // it, as a rule — so what waits fails too, as work waiting for a lost connection does at a close.
          this.giveUp(
            index,
            recovery,
            new FelixError(
              'connection_closed',
              `${pool} connection ${index}: the client closed while it was connecting`,
              { cause: error, retry: 'retry' },
            ),
          );
          return;
        }
        recovery.lastError = error as FelixError;
        this.status({ type: 'disconnect', pool, connection: index, error: recovery.lastError });
        this.options.onWarning?.(
          `${pool} connection ${index} could not be opened (${recovery.lastError.message}); it is tried ` +
            'again with backoff (FELIX_RECONNECT_*), and the work placed on it waits: status() reports each attempt',
        );
      }
    }
    // A new connection lost before any stream authenticated on it (its auth refused) was one failed attempt
    // of this same reconnect.
    recovery.attempts = slot.carriedAttempts;
    slot.carriedAttempts = 0;
    const aborted = slot.abort;
    slot.abort = null;
    if (aborted !== null) {
      // The same refusal twice in a row: trying again would be refused again.
      this.status({ type: 'error', pool, connection: index, error: aborted });
      this.giveUp(index, recovery, aborted);
      return;
    }
    while (!this.closed && attemptAllowed(policy, recovery.attempts + 1)) {
      const attempt = ++recovery.attempts;
      const delayMs = reconnectDelay(policy, attempt, this.options.random);
      // After a failed attempt, why it failed (attempt 1 follows the `disconnect`, which says why).
      const why = attempt > 1 ? recovery.lastError : null;
      this.status({
        type: 'reconnecting',
        pool,
        connection: index,
        attempt,
        delayMs,
        ...(why === null ? {} : { error: why }),
      });
      await this.sleep(delayMs);
      if (this.closed) break;
      try {
        this.restored(slot, recovery, await this.connect(index), attempt);
        return;
      } catch (error) {
        recovery.lastError = error as FelixError;
        // Not refused: a refusal after this one is not a repeat.
        slot.lastRefusal = null;
      }
    }
    // Closed meanwhile: markClosed() already settled this recovery.
    if (this.closed || slot.recovery !== recovery) return;
    const { attempts: made, lastError } = recovery;
    const error = new FelixError(
      'connection_closed',
      `${pool} connection ${index}: gave up after ${reconnectAttempts(made)} (FELIX_RECONNECT_ATTEMPTS): ` +
        (lastError?.message ?? 'lost'),
      { cause: lastError },
    );
    this.status({ type: 'error', pool, connection: index, error });
    this.giveUp(index, recovery, error);
  }

  private restored(slot: Slot<T>, recovery: Recovery<T>, entry: PooledConnection<T>, attempts: number): void {
    slot.recovery = null;
    recovery.resolve(entry);
    // A slot's first connection, opened at the first try, replaces nothing.
    if (attempts === 0) return;
    // `reconnect` is reported once a stream authenticates on it (confirmed()); the listeners' streams are
    // what authenticates.
    slot.unconfirmed = { entry, attempts };
    for (const listener of this.listeners) listener.restored?.(entry);
  }

  /** Some listener has work on slot `index`, or none says (see PoolListener.holds). */
  private needed(index: number): boolean {
    let asked = false;
    for (const listener of this.listeners) {
      if (listener.holds === undefined) continue;
      if (listener.holds(index)) return true;
      asked = true;
    }
    return !asked;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const sleep = {
        timer: setTimeout(() => {
          this.sleeps.delete(sleep);
          resolve();
        }, ms),
        wake: resolve,
      };
      this.sleeps.add(sleep);
    });
  }

  /** `firstTry`: a slot's first connection, which close() lets finish so what waits for it is flushed. */
  private async connect(index: number, firstTry = false): Promise<PooledConnection<T>> {
    const { name, connectTimeoutMs } = this.options;
    const label = `${name} connection ${index}`;
    let connection: Connection;
    try {
      const endpoint = await this.options.endpoint();
      connection = await connectWithin(endpoint, connectTimeoutMs, label);
    } catch (error) {
      // Whatever went wrong before the handshake completed (DNS, TLS policy, certificate, no answer) means
      // the broker could not be reached, even when the transport words it as a closed connection.
      if (error instanceof FelixError) throw error;
      throw new FelixError('connect_failed', `cannot open ${label}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (this.closed && !firstTry) {
      connection.close(0, 'client closed');
      throw new FelixError('not_connected', `${label}: the client is closed`);
    }
    const tenant = this.options.attach(connection, index);
    const entry: PooledConnection<T> = { connection, tenant, index, draining: false };
    const slot = this.slots[index]!;
    slot.live = entry;
    if (slot.recovery === null) slot.promise = Promise.resolve(entry);
    connection.onClose = (info) => this.onClose(entry, closedError(label, info));
    connection.onCreditStranded = (bytes) => {
      // Streams the broker reset while their bytes waited here unread (a stalled subscription disconnected
      // as a slow consumer) took up to `bytes` of this connection's receive window for good
      // (Connection.strandedBytes): a few more and the broker could send nothing on it, with no error. So it
      // is closed now and reopened like a lost one, its work resuming on the new connection.
      if (slot.live === entry) {
        connection.close(
          CONNECTION_CODE_NO_ERROR,
          `recycled: ${bytes} bytes of its receive window stranded by reset streams`,
        );
      }
    };
    return entry;
  }

  private onClose(entry: PooledConnection<T>, error: FelixError): void {
    const slot = this.slots[entry.index]!;
    if (slot.live !== entry) {
      entry.tenant.onConnectionClosed(error);
      return;
    }
    slot.live = undefined;
    // A reconnect's new connection lost before any stream authenticated: the same reconnect goes on.
    const unconfirmed = slot.unconfirmed?.entry === entry ? slot.unconfirmed : null;
    slot.unconfirmed = null;
    // What the slot's streams and the give-up are told: the broker's refusal, when that closed it.
    const cause = slot.refusal ?? error;
    slot.refusal = null;
    // A confirmed connection lost: a new episode, whose refusals repeat nothing before it.
    if (unconfirmed === null) slot.lastRefusal = null;
    // A draining slot already hands out the connection to come, so it is sought even for an idle slot.
    const resuming = this.resuming && (slot.recovery !== null || this.needed(entry.index));
    if (resuming && unconfirmed !== null) slot.carriedAttempts = unconfirmed.attempts;
    // No work is left for it (its streams ended otherwise than refused): the episode ends as the connection
    // came back, before this loss, which nothing needs reported.
    if (!resuming && unconfirmed !== null && unconfirmed.attempts > 0) {
      this.status({
        type: 'reconnect',
        pool: this.options.name,
        connection: entry.index,
        attempts: unconfirmed.attempts,
      });
    }
    if (resuming) {
      // An unconfirmed reconnect goes on without a second disconnect; a first connection refused during an
      // outage starts its episode here.
      if (unconfirmed === null || unconfirmed.attempts === 0) {
        this.status({ type: 'disconnect', pool: this.options.name, connection: entry.index, error: cause });
      }
      // A draining slot already hands out the connection to come; otherwise it starts now.
      this.recoveryOf(slot);
    } else if (slot.recovery === null) {
      slot.promise = undefined;
    }
    // Not reconnecting (no work left for it): a repeated refusal ends nothing.
    if (!resuming) slot.abort = null;
    for (const listener of this.listeners) listener.lost?.(entry.index, cause, resuming);
    entry.tenant.onConnectionClosed(cause);
    if (resuming) void this.recover(entry.index, cause);
  }
}

/**
 * Endpoint.connect() with a bound: a broker that is not there never answers the handshake (UDP has no
 * "connection refused"), so without it a wrong address would only fail after the idle timeout.
 */
async function connectWithin(endpoint: Endpoint, timeoutMs: number, label: string): Promise<Connection> {
  try {
    return await endpoint.connect({ timeoutMs });
  } catch (err) {
    if (err instanceof ConnectTimeoutError && err.portClosed) {
      // UDP's "connection refused": the handshake was tried again until the timeout, in case the broker
      // was starting.
      throw new FelixError(
        'connect_failed',
        `cannot open ${label}: nothing listens at the broker's address (its port answered ICMP port ` +
          `unreachable; handshakes tried for ${timeoutMs} ms: is the broker running, on that port?)`,
      );
    }
    if (err instanceof TransportError && err.code === 'connect_timeout') {
      throw new FelixError(
        'connect_failed',
        `cannot open ${label}: no QUIC handshake with the broker within ${timeoutMs} ms ` +
          '(is the broker running at that address, and reachable over UDP?)',
      );
    }
    throw err;
  }
}

/** "1 reconnect attempt", "2 reconnect attempts". */
function reconnectAttempts(count: number): string {
  return `${count} reconnect attempt${count === 1 ? '' : 's'}`;
}

function closedError(label: string, info: CloseInfo): FelixError {
  // The broker refuses a peer right after the handshake, before serving it anything (protected mode): a
  // connect that failed, at connect() as on a reconnect, not a connection lost with work in flight.
  if (info.byPeer && info.isApp && info.code === CONNECTION_CODE_REFUSED) {
    return new FelixError('connect_failed', `${label} refused by the broker: ${info.reason}`);
  }
  const by = info.timedOut ? 'idle timeout' : info.byPeer ? 'closed by the broker' : 'closed';
  return new FelixError('connection_closed', `${label} ${by}: ${info.reason}`);
}
