/**
 * A fixed number of QUIC connections of one family (publish, event or cache) on one client endpoint, so
 * the family's windows are real transport settings. Slots connect lazily, on first use, and a slot whose
 * connection closed reconnects on its next use; what ran on the old connection is told it closed.
 */
import { TransportError, type CloseInfo, type Connection, type Endpoint } from '../transport/index.js';
import { FelixError } from './errors.js';

/** What a pool runs on each connection (request streams, an event router); told when it closes. */
export interface ConnectionTenant {
  onConnectionClosed(error: FelixError): void;
}

export interface ConnectionPoolOptions<T extends ConnectionTenant> {
  /** Names the pool in errors ("publish connection 2"). */
  readonly name: string;
  readonly size: number;
  /** The family's endpoint, created on first use. */
  readonly endpoint: () => Promise<Endpoint>;
  /** Bound on one QUIC handshake. */
  readonly connectTimeoutMs: number;
  /** Sets up what runs on a new connection. */
  readonly attach: (connection: Connection, index: number) => T;
}

export interface PooledConnection<T> {
  readonly connection: Connection;
  readonly tenant: T;
  readonly index: number;
}

export class ConnectionPool<T extends ConnectionTenant> {
  private readonly slots: (Promise<PooledConnection<T>> | undefined)[];
  private readonly live: (PooledConnection<T> | undefined)[];
  private cursor = 0;
  private closed = false;

  constructor(private readonly options: ConnectionPoolOptions<T>) {
    this.slots = new Array<Promise<PooledConnection<T>> | undefined>(options.size).fill(undefined);
    this.live = new Array<PooledConnection<T> | undefined>(options.size).fill(undefined);
  }

  get size(): number {
    return this.options.size;
  }

  /** Connections currently established. */
  get connected(): readonly PooledConnection<T>[] {
    return this.live.filter((entry): entry is PooledConnection<T> => entry !== undefined);
  }

  /** The next slot in round-robin order. */
  nextIndex(): number {
    const index = this.cursor;
    this.cursor = index + 1 === this.options.size ? 0 : index + 1;
    return index;
  }

  /** The connection of slot `index`, connecting it first if needed. */
  get(index: number): Promise<PooledConnection<T>> {
    if (this.closed) {
      return Promise.reject(
        new FelixError('not_connected', `${this.options.name} pool: the client is closed`),
      );
    }
    let slot = this.slots[index];
    if (slot === undefined) {
      slot = this.connect(index);
      this.slots[index] = slot;
      // A failed attempt frees the slot, so the next use tries again.
      slot.catch(() => {
        if (this.slots[index] === slot) this.slots[index] = undefined;
      });
    }
    return slot;
  }

  /** Stops handing out connections; the caller closes the endpoint, which closes them all. */
  markClosed(): void {
    this.closed = true;
  }

  private async connect(index: number): Promise<PooledConnection<T>> {
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
    if (this.closed) {
      connection.close(0, 'client closed');
      throw new FelixError('not_connected', `${label}: the client is closed`);
    }
    const tenant = this.options.attach(connection, index);
    const entry: PooledConnection<T> = { connection, tenant, index };
    this.live[index] = entry;
    connection.onClose = (info) => {
      if (this.live[index] === entry) {
        this.live[index] = undefined;
        this.slots[index] = undefined;
      }
      tenant.onConnectionClosed(closedError(label, info));
    };
    return entry;
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

function closedError(label: string, info: CloseInfo): FelixError {
  const by = info.timedOut ? 'idle timeout' : info.byPeer ? 'closed by the broker' : 'closed';
  return new FelixError('connection_closed', `${label} ${by}: ${info.reason}`);
}
