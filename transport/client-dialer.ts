// A client endpoint's handshakes to its one server: each connect() is a handshake under way until it is
// established or fails, and one that a closed port (ICMP port unreachable) answered is started again soon
// rather than at quiche's next probe timeout.
import { Connection } from './connection.js';
import { cidWords, makeCid, type ConnectionTable } from './connection-ids.js';
import {
  AlpnRefusedError,
  ConnectionClosedError,
  ConnectTimeoutError,
  NO_APPLICATION_PROTOCOL,
  TransportError,
  type CloseInfo,
} from './errors.js';
import { quiche, type HostPort, type QuicheConfig } from './native.js';

/**
 * A closed port answers a client's Initial with an ICMP port unreachable, which quiche never hears of: it
 * sends the Initial again only at its probe timeouts (about 1 s, then 3 s, 7 s after the first), so a client
 * whose broker restarts would find it back seconds late. A handshake that has heard nothing from its peer
 * starts again this long after each such answer, within its connect timeout.
 */
const REDIAL_AFTER_UNREACHABLE_MS = 200;

/** The server a client endpoint's connected socket talks to, and the name its certificate must carry. */
export type DialPeer = HostPort & { readonly serverName: string };

interface PendingConnect {
  /** The handshake under way for it; a new one after each redial. */
  conn: Connection;
  resolve(c: Connection): void;
  reject(e: Error): void;
  /** A redial planned after the peer's port was found closed. */
  redial: NodeJS.Timeout | null;
  /** The peer's port answered one of its handshakes with ICMP port unreachable. */
  portClosed: boolean;
}

export class ClientDialer {
  private readonly local: HostPort;
  private readonly connects = new Map<Connection, PendingConnect>();
  /** Handshakes started again after an ICMP port unreachable (REDIAL_AFTER_UNREACHABLE_MS). */
  private redials = 0;
  private closing = false;

  constructor(
    private readonly endpoint: ConnectionTable,
    private readonly peer: DialPeer,
    private readonly config: QuicheConfig,
    /** The ALPN ids offered, named by the error of a connect the server refused for them. */
    private readonly alpn: readonly string[],
  ) {
    this.local = endpoint.local;
  }

  get redialCount(): number {
    return this.redials;
  }

  /** The endpoint is closing: connect() fails from now, and no redial starts. */
  close(): void {
    this.closing = true;
  }

  /**
   * Opens a new connection to the server; resolves when the handshake completes, rejects with a
   * TransportError 'connect_timeout' (after closing the attempt) when `timeoutMs` passes first.
   */
  connect(opts: { readonly timeoutMs?: number }): Promise<Connection> {
    const peer = this.peer;
    if (this.closing) return Promise.reject(new TransportError('endpoint is closed', 'endpoint_closed'));
    return new Promise<Connection>((resolve, reject) => {
      const timeoutMs = opts.timeoutMs;
      const timer =
        timeoutMs === undefined
          ? null
          : setTimeout(() => {
              const c = pending.conn;
              if (!this.connects.delete(c)) return;
              this.cancelRedial(pending);
              c.close(0, 'connect timeout');
              const why = pending.portClosed ? ': nothing listens at that port (ICMP port unreachable)' : '';
              reject(
                new ConnectTimeoutError(
                  `no handshake with ${peer.host}:${peer.port} within ${timeoutMs} ms${why}`,
                  pending.portClosed,
                ),
              );
            }, timeoutMs);
      const pending: PendingConnect = {
        conn: undefined as unknown as Connection,
        redial: null,
        portClosed: false,
        resolve: (c) => {
          if (timer !== null) clearTimeout(timer);
          this.cancelRedial(pending);
          resolve(c);
        },
        reject: (e) => {
          if (timer !== null) clearTimeout(timer);
          this.cancelRedial(pending);
          reject(e);
        },
      };
      this.dial(pending, peer);
    });
  }

  onEstablished(c: Connection): void {
    const pending = this.connects.get(c);
    this.connects.delete(c);
    pending?.resolve(c);
  }

  /** `c` closed: if it was a connect's handshake, that connect fails with why. */
  onClosed(c: Connection, info: CloseInfo): void {
    const pending = this.connects.get(c);
    if (pending !== undefined) {
      this.connects.delete(c);
      pending.reject(connectFailure(info, this.alpn));
    }
  }

  /**
   * The socket reported an ICMP port unreachable, so nothing listens at the peer's port (yet). Each
   * handshake that has heard nothing from the peer is started again shortly, and again after the next such
   * answer, rather than at quiche's next probe timeout; one that has heard from it carries on.
   */
  onPortUnreachable(): void {
    if (this.closing) return;
    for (const pending of this.connects.values()) {
      if (pending.redial !== null || pending.conn.heard) continue;
      pending.portClosed = true;
      pending.redial = setTimeout(() => this.redial(pending), REDIAL_AFTER_UNREACHABLE_MS);
    }
  }

  /** Starts a handshake for `pending`: a new connection, whose first flight leaves at the next flush. */
  private dial(pending: PendingConnect, peer: DialPeer): void {
    const slot = this.endpoint.allocateSlot();
    const scid = makeCid(slot);
    const q = quiche.Connection.connect(peer.serverName, scid, this.local, peer, this.config);
    const conn = new Connection(
      q,
      this.endpoint.driver,
      false,
      this.local,
      { host: peer.host, port: peer.port },
      slot,
      cidWords(scid),
    );
    this.endpoint.adopt(conn);
    pending.conn = conn;
    this.connects.set(conn, pending);
    this.endpoint.driver.markDirty(conn);
  }

  private redial(pending: PendingConnect): void {
    pending.redial = null;
    const old = pending.conn;
    if (this.closing || this.connects.get(old) !== pending || old.heard || old.established) return;
    // Out of `connects` first: forgetting the old attempt rejects nothing.
    this.connects.delete(old);
    this.redials++;
    this.endpoint.finalize(old, REDIALED_CLOSE);
    this.dial(pending, this.peer);
  }

  private cancelRedial(pending: PendingConnect): void {
    if (pending.redial === null) return;
    clearTimeout(pending.redial);
    pending.redial = null;
  }
}

// An attempt given up for a new one after the peer's port answered unreachable: heard by no application.
const REDIALED_CLOSE: CloseInfo = Object.freeze({
  code: 0,
  reason: 'redialed: the port was closed',
  isApp: false,
  byPeer: false,
  timedOut: false,
});

/** Why a connect() failed, as the error its promise rejects with. */
function connectFailure(info: CloseInfo, offered: readonly string[]): ConnectionClosedError {
  if (!info.isApp && info.code === NO_APPLICATION_PROTOCOL) return new AlpnRefusedError(offered, info);
  return new ConnectionClosedError(`connection failed: ${info.reason}`, info);
}
