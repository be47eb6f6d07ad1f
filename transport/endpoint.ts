import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Admission, type AdmissionLimits } from './admission.js';
import { AddressValidator, type RetryOptions } from './address-validation.js';
import { Connection, type ConnectionDriver } from './connection.js';
import { DatagramCounters, type DatagramStats, type DropReason } from './datagram-stats.js';
import { ClientDialer, type DialPeer } from './client-dialer.js';
import { CID_LEN, originalDcidKey } from './connection-ids.js';
import { TransportError, type CloseInfo } from './errors.js';
import { isWildcard } from './local-address.js';
import { InitialAcceptor, type AcceptorHost, type ServerAcceptance } from './initial-acceptor.js';
import { PerSecondBudget } from './per-second.js';
import type { DatagramSource } from './sockaddr.js';
import { StatelessResetKey } from './stateless-reset.js';
import { BatchReceiver, type BatchReceiveStats } from './udp-mmsg.js';
import type { SegmentedSendStats } from './udp-gso.js';
import { PacketSender } from './packet-sender.js';
import { DCID_OFFSET, LongHeader } from './long-header.js';
import { quiche, type HostPort, type QuicheConfig } from './native.js';
import { applySettings, resolveAlpn, resolveTransportSettings, type TransportSettings } from './settings.js';
import { isLoopbackHost, resolveClientTlsPolicy, type ClientTlsOptions, type ServerTls } from './tls.js';
import {
  WRITE_DEADLINE_CLOSE,
  WRITE_DEADLINE_CODE,
  WRITE_DEADLINE_REASON,
  lookAt,
  writeDeadlineLookMs,
} from './write-deadline.js';
import { StopWatch } from './stop-watch.js';

// One streamRecv hands over at most this much: small enough that answers to the first requests of a
// burst leave before the last ones are parsed, large enough to keep per-call overhead negligible.
const SCRATCH_BYTES = 32 << 10;
// A flush that keeps producing work (handlers writing to other connections) yields to I/O after this.
const MAX_FLUSH_ROUNDS = 16;
// Stateless Reset answers per second at most: each costs a send, and garbage can ask for them (from a
// forged source address, too).
const MAX_STATELESS_RESETS_PER_SECOND = 1000;
// RFC 9000 §10.3: the shortest datagram that can be a stateless reset.
const MIN_STATELESS_RESET = 21;

/** Application close code for a connection whose handling threw (the last-resort guard). */
export const INTERNAL_ERROR_CODE = 0x1;

export interface EndpointOptions {
  readonly settings?: Partial<TransportSettings>;
  /**
   * Application protocol ids (ALPN): a client offers them, a server accepts them, in preference order.
   * Default: Felix's, `felix`. A client whose offer the server does not accept fails at once with
   * AlpnRefusedError (TLS alert no_application_protocol).
   */
  readonly alpn?: string | readonly string[];
  /**
   * An application callback (onConnection, onStream, onData, onDrain, onReset, onStopSending, onClose)
   * threw, or, last resort, handling that connection threw: the endpoint has closed that connection
   * with application code 0x1 (INTERNAL_ERROR_CODE) and reason 'internal error', and serves every other
   * connection on. Without this option the error is reported with process.emitWarning.
   */
  readonly onCallbackError?: (error: unknown, connection: Connection) => void;
}

/**
 * A server's limits (AdmissionLimits) are enforced when a new connection would be accepted, before any
 * quiche state exists: the client's Initial is dropped unanswered (its retransmissions too, until room
 * frees), and counted in datagramStats().dropped as connection_limit, address_limit or handshake_rate.
 * A client refused by a connection limit is also told, in an Initial it can read (CONNECTION_REFUSED,
 * transport code 0x2, with the limit as the reason; datagramStats().refusalsSent), so its connect fails
 * at once; a handshake-rate refusal is transient and stays silent (the client's retransmission gets in). A handshake not done within handshakeTimeoutMs is dropped and
 * its slot freed (datagramStats().handshakesTimedOut).
 *
 * Address validation (RetryOptions): a new client's Initial may be answered with a QUIC Retry instead of a
 * handshake — always, never, or (auto, the default) while more than retryAboveHandshakesPerSecond new
 * clients arrive per second — so a flood of Initials from forged or never-finishing sources keeps no state.
 * Until its address is validated (by a Retry, or by the handshake) quiche sends a client at most three
 * times the bytes it received from it (RFC 9000 §8.1).
 */
export interface ListenOptions extends EndpointOptions, AdmissionLimits, RetryOptions {
  readonly host?: string;
  readonly port?: number;
  readonly tls: ServerTls;
  /**
   * Key the connections' stateless reset tokens are derived from (at least 16 bytes). Give the same key
   * after a restart and the restarted server's resets are recognised by the previous run's clients, which
   * then learn of the restart at once; without it a random key of this process is used, which still ends
   * connections the server forgot while running.
   */
  readonly statelessResetKey?: Uint8Array;
  /** A new connection whose handshake completed. */
  readonly onConnection: (connection: Connection) => void;
}

export interface ClientEndpointOptions extends EndpointOptions {
  readonly host: string;
  readonly port: number;
  readonly tls?: ClientTlsOptions;
  /** Receives the certificate-policy warning when the policy is lenient (loopback without a CA). */
  readonly onWarning?: (message: string) => void;
}

export interface EndpointCloseOptions {
  readonly code?: number;
  readonly reason?: string;
  /** Upper bound on waiting for the close packets to leave the socket. */
  readonly timeoutMs?: number;
}

/** What the endpoint calls into the application with, besides the connections' own handlers. */
interface EndpointHooks {
  readonly onConnection: ((c: Connection) => void) | null;
  readonly onCallbackError: ((error: unknown, connection: Connection) => void) | null;
}

/**
 * One UDP socket, many QUIC connections, one event-loop-driven engine: datagrams are fed to quiche as they
 * arrive and every connection touched in a poll batch is serviced once, in one flush (setImmediate), which
 * also coalesces ACKs and batches sends. No promise or await per packet.
 */
export class Endpoint implements ConnectionDriver {
  readonly settings: TransportSettings;
  readonly isServer: boolean;
  private readonly slots: (Connection | undefined)[] = [];
  private readonly freeSlots: number[] = [];
  private readonly byOriginalDcid = new Map<string, Connection>();
  private dirty: Connection[] = [];
  private spare: Connection[] = [];
  private scheduled = false;
  private readonly sender: PacketSender;
  /** recvmmsg reading of the socket, or null (with the reason in batchReceiveUnavailable). */
  private readonly batchReceiver: BatchReceiver | null;
  private readonly batchReceiveUnavailable: string | null;
  private readonly scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
  private closing = false;
  private socketClosed = false;
  /** Server only: what answers a long-header datagram that matches no connection. */
  private readonly acceptor: InitialAcceptor | null;
  /** Client only: the handshakes connect() starts. */
  private readonly dialer: ClientDialer | null;
  /** Server only: what stateless reset tokens are derived from. */
  private readonly resetKey: StatelessResetKey | null;
  private readonly keepAliveTimer: NodeJS.Timeout | null;
  private readonly writeDeadlineTimer: NodeJS.Timeout | null;
  private readonly stopWatch = new StopWatch<Connection>((c, error) => this.callbackFailed(c, error));
  private readonly flushBound = (): void => this.flush();
  private readonly sendPhaseBound = (): void => this.sendPhase();
  /** Connections read in this flush, whose packets the send phase sends. */
  private reading: Connection[] = [];
  private readingSpare: Connection[] = [];
  private readonly timerBound = (c: Connection): void => this.onTimer(c);
  private readonly counters = new DatagramCounters();
  /** Reused for every long-header datagram that matches no connection. */
  private readonly header = new LongHeader();
  private readonly statelessResetBudget = new PerSecondBudget(MAX_STATELESS_RESETS_PER_SECOND);
  /** Connections that went through a Retry, by the connection ID it gave them (which has no routing slot). */
  private readonly byRetryCid = new Map<string, Connection>();

  private constructor(
    private readonly socket: dgram.Socket,
    settings: TransportSettings,
    /** The bound (server) or connected (client) local address: quiche needs the same one on every packet. */
    readonly local: HostPort,
    private readonly hooks: EndpointHooks,
    /** The ALPN ids this endpoint offers (client) or accepts (server). */
    readonly alpn: readonly string[],
    /** Server only: what new clients are taken on with. */
    server: ServerAcceptance | null,
    /** Client only: the one peer its connected socket talks to, and the config its handshakes start from. */
    client: { readonly peer: DialPeer; readonly config: QuicheConfig } | null,
  ) {
    this.settings = settings;
    this.isServer = server !== null;
    const onUnreachable = (): void => this.dialer?.onPortUnreachable();
    this.sender = new PacketSender(socket, settings.udpGso, onUnreachable);
    // Made once per endpoint, and called only as a connection starts or ends: no closure on a packet's path.
    const table: AcceptorHost = {
      driver: this,
      local,
      sender: this.sender,
      counters: this.counters,
      allocateSlot: () => this.allocateSlot(),
      freeSlot: (slot) => {
        this.freeSlots.push(slot);
      },
      adopt: (c) => this.adopt(c),
      finalize: (c, info) => this.finalize(c, info),
      reportCallbackError: (error, c) => this.reportCallbackError(error, c),
    };
    this.acceptor = server === null ? null : new InitialAcceptor(table, server);
    this.resetKey = server?.resetKey ?? null;
    this.dialer = client === null ? null : new ClientDialer(table, client.peer, client.config, alpn);
    socket.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo));
    // Bound to every address, answers must leave from the one each client dialled (local-address.ts).
    const localAddresses =
      server !== null && isWildcard(local.host) ? { ipv6: isIP(local.host) === 6 } : null;
    const receiver = BatchReceiver.open(
      socket,
      settings.udpRecvmmsg,
      (msg, from) => this.onDatagram(msg, from),
      onUnreachable,
      localAddresses,
    );
    this.batchReceiver = typeof receiver === 'string' ? null : receiver;
    this.batchReceiveUnavailable = typeof receiver === 'string' ? receiver : null;
    // Send and receive errors are per packet; QUIC recovers or times out, so they must not crash the
    // process. A connected socket's ICMP port unreachable (through Node's own read or send) is one to act on.
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED') onUnreachable();
    });
    const keepAlive = settings.keepAliveMs;
    this.keepAliveTimer =
      keepAlive > 0 ? setInterval(() => this.keepAlive(keepAlive), Math.max(1, keepAlive >> 1)) : null;
    this.keepAliveTimer?.unref();
    const deadline = settings.writeDeadlineMs;
    const look = writeDeadlineLookMs(deadline);
    this.writeDeadlineTimer =
      deadline > 0 ? setInterval(() => this.checkWriteDeadline(deadline, look), look) : null;
    this.writeDeadlineTimer?.unref();
  }

  /** Starts a server endpoint. */
  static async listen(opts: ListenOptions): Promise<Endpoint> {
    const settings = resolveTransportSettings(opts.settings);
    const alpn = resolveAlpn(opts.alpn);
    const admission = new Admission(opts);
    const validator = new AddressValidator(opts);
    const resetKey = new StatelessResetKey(opts.statelessResetKey ?? randomBytes(32));
    const host = opts.host ?? '0.0.0.0';
    // The TLS configs first, so that whatever quiche refuses in them fails before a socket exists.
    const serverConfig = (payload: number): QuicheConfig => {
      const enc = new TextEncoder();
      const c = quiche.Config.withBoringSslCtx(
        false,
        false,
        null,
        [enc.encode(opts.tls.keyPem)],
        [enc.encode(opts.tls.certPem)],
        null,
      );
      applySettings(c, settings, payload, alpn);
      return c;
    };
    const configs = {
      wan: serverConfig(settings.maxUdpPayload),
      loopback: serverConfig(settings.loopbackUdpPayload),
    };
    const socket = createSocket(host, settings);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (error) => {
        // A failed bind leaves the socket open: release it, or an in-process caller leaks one per try.
        socket.close();
        reject(error);
      });
      socket.bind(opts.port ?? 0, host, () => {
        socket.removeAllListeners('error');
        resolve();
      });
    });
    const addr = socket.address();
    return new Endpoint(
      socket,
      settings,
      { host: addr.address, port: addr.port },
      { onConnection: opts.onConnection, onCallbackError: opts.onCallbackError ?? null },
      alpn,
      { configs, admission, validator, resetKey },
      null,
    );
  }

  /** Creates a client endpoint whose socket is connected to one server; connect() opens connections to it. */
  static async client(opts: ClientEndpointOptions): Promise<Endpoint> {
    const settings = resolveTransportSettings(opts.settings);
    const alpn = resolveAlpn(opts.alpn);
    const policy = resolveClientTlsPolicy(opts.host, opts.tls);
    if (policy.warning !== null) opts.onWarning?.(policy.warning);
    const address = isIP(opts.host) !== 0 ? opts.host : (await lookup(opts.host)).address;
    const socket = createSocket(address, settings);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(opts.port, address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const addr = socket.address();
    const clientConfig = (payload: number): QuicheConfig => {
      const ca = policy.caPem === null ? null : new TextEncoder().encode(policy.caPem);
      const c = quiche.Config.withBoringSslCtx(policy.verifyPeer, false, ca, null, null, null);
      applySettings(c, settings, payload, alpn);
      return c;
    };
    const loopback = isLoopbackHost(address);
    const config = clientConfig(loopback ? settings.loopbackUdpPayload : settings.maxUdpPayload);
    return new Endpoint(
      socket,
      settings,
      { host: addr.address, port: addr.port },
      { onConnection: null, onCallbackError: opts.onCallbackError ?? null },
      alpn,
      null,
      { peer: { host: address, port: opts.port, serverName: policy.serverName }, config },
    );
  }

  get address(): HostPort {
    return this.local;
  }

  /** Live connections (handshaking ones included). */
  get connections(): Connection[] {
    return this.slots.filter((c): c is Connection => c !== undefined);
  }

  /** What happened to datagrams that matched no connection (a copy of the counters). */
  datagramStats(): DatagramStats {
    return this.counters.snapshot();
  }

  /** Whether datagrams leave through segmentation offload, and how many did. */
  segmentedSendStats(): SegmentedSendStats {
    return this.sender.stats();
  }

  /** Client: how many handshakes were started again because the peer's port answered unreachable. */
  get redialCount(): number {
    return this.dialer?.redialCount ?? 0;
  }

  /** Whether the socket is read with recvmmsg, and how many datagrams were. */
  /**
   * Server: whether answers leave from the address each client dialled (transport/local-address.ts), for
   * the start log: 'on', 'not needed' (bound to one address), or why not.
   */
  dialledAddressAnswers(): string {
    if (!isWildcard(this.local.host)) return 'not needed (bound to one address)';
    if (this.batchReceiver === null) return `off: ${this.batchReceiveUnavailable ?? 'no batched receive'}`;
    if (!this.batchReceiver.reportsDestinations)
      return 'off: the kernel did not agree to report destinations';
    const send = this.sender.stats();
    if (!send.active) return `off: ${send.inactiveReason ?? 'no sendmsg path'}`;
    return 'on';
  }

  batchReceiveStats(): BatchReceiveStats {
    if (this.batchReceiver !== null) return this.batchReceiver.stats();
    return { active: false, calls: 0, datagrams: 0, inactiveReason: this.batchReceiveUnavailable };
  }

  /**
   * Client only: opens a new connection to the endpoint's server; resolves when the handshake completes,
   * rejects with a TransportError 'connect_timeout' (after closing the attempt) when `timeoutMs` passes first.
   */
  connect(opts: { readonly timeoutMs?: number } = {}): Promise<Connection> {
    if (this.dialer === null)
      return Promise.reject(new TransportError('connect() is for client endpoints', 'not_client'));
    return this.dialer.connect(opts);
  }

  /**
   * Closes every connection with `code`/`reason` (the peers receive them), waits at most `timeoutMs` for the
   * close packets to leave, then releases the socket. Connections do not linger in QUIC's draining period.
   */
  async close(opts: EndpointCloseOptions = {}): Promise<void> {
    if (this.socketClosed) return;
    this.closing = true;
    this.acceptor?.stopAccepting();
    this.dialer?.close();
    for (const c of this.connections) c.close(opts.code ?? 0, opts.reason ?? 'endpoint closing');
    this.flush();
    // The close packets leave now, before the connections are forgotten below.
    this.sendPhase();
    const localClose: CloseInfo = {
      code: opts.code ?? 0,
      reason: opts.reason ?? 'endpoint closing',
      isApp: true,
      byPeer: false,
      timedOut: false,
    };
    for (const c of this.connections) {
      try {
        this.finalize(c, localClose);
      } catch (error) {
        this.callbackFailed(c, error);
      }
    }
    const deadline = performance.now() + (opts.timeoutMs ?? 1000);
    while (this.socket.getSendQueueCount() > 0 && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1));
    }
    this.socketClosed = true;
    if (this.keepAliveTimer !== null) clearInterval(this.keepAliveTimer);
    if (this.writeDeadlineTimer !== null) clearInterval(this.writeDeadlineTimer);
    this.stopWatch.close();
    this.batchReceiver?.close();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  /** Server: ignores new handshakes from now on (e.g. while draining); existing connections carry on. */
  stopAccepting(): void {
    this.acceptor?.stopAccepting();
  }

  // ConnectionDriver: kept in the declarations (stripInternal), which an implemented interface needs.
  markDirty(c: Connection): void {
    if (!c.dirty && !c.finalized) {
      c.dirty = true;
      this.dirty.push(c);
    }
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushBound);
    }
  }

  private keepAlive(intervalMs: number): void {
    const now = performance.now();
    for (const c of this.slots) {
      if (c === undefined || !c.established || c.closed) continue;
      try {
        c.pollStopped();
      } catch (error) {
        this.callbackFailed(c, error); // an onStopSending handler threw: only c pays
        continue;
      }
      if (now - c.lastSentAt < intervalMs) continue;
      try {
        c.q.sendAckEliciting();
      } catch (error) {
        this.callbackFailed(c, error); // not a callback, but the same last resort: only c pays
        continue;
      }
      this.markDirty(c);
    }
  }

  /** The write deadline's look at every connection (see write-deadline.ts). */
  private checkWriteDeadline(deadlineMs: number, lookMs: number): void {
    const now = performance.now();
    for (const c of this.slots) {
      if (c === undefined || !c.established || c.closed) continue;
      // Guarded as a whole: the look may ask quiche for the path's round trip, and a timer has no other guard.
      try {
        const verdict = lookAt(c, now, deadlineMs, lookMs, roundTripOf);
        if (verdict === null) continue;
        if (verdict === 'close') {
          this.counters.writeDeadlineCloses++;
          c.close(WRITE_DEADLINE_CODE, WRITE_DEADLINE_REASON);
          // Heard now, not at quiche's closing: what is queued for the peer is released at once.
          this.notifyClosed(c, WRITE_DEADLINE_CLOSE);
        } else {
          c.q.sendAckEliciting();
          this.markDirty(c);
        }
      } catch (error) {
        this.callbackFailed(c, error); // onClose threw, or quiche did: only c pays
      }
    }
  }

  private onDatagram(msg: Buffer, rinfo: DatagramSource): void {
    if (msg.length === 0) {
      this.drop('malformed');
      return;
    }
    let c: Connection | undefined;
    if ((msg[0]! & 0x80) === 0) {
      if (msg.length >= 1 + CID_LEN) c = this.route(msg, 1);
      if (c === undefined) {
        this.onUnknownShortHeader(msg, rinfo);
        return;
      }
    } else {
      c = this.routeLongHeader(msg, rinfo);
      if (c === undefined) return;
    }
    if (c.finalized) return;
    c.heard = true;
    c.owed = false;
    try {
      c.q.recv(msg, c.recvInfo);
    } catch {
      // quiche records a fatal error on the connection and emits CONNECTION_CLOSE at the next send;
      // a merely undecryptable packet is dropped inside quiche without an error.
    }
    this.markDirty(c);
  }

  /**
   * A short-header packet for no connection of ours (or for a slot whose connection is gone): a server
   * answers it with a stateless reset (RFC 9000 §10.3), so a client of a connection this process forgot —
   * or of a previous run, when the reset key outlived it — stops at once instead of at its idle timeout.
   * Only datagrams long enough to be answered by a shorter reset are (so two endpoints that both lost state
   * cannot reset each other forever), at most a fixed number per second.
   */
  private onUnknownShortHeader(msg: Buffer, rinfo: DatagramSource): void {
    this.drop('unknown_connection');
    if (!this.isServer) {
      this.checkStatelessReset(msg);
      return;
    }
    const key = this.resetKey;
    // The cheap checks and the budget before the HMAC: a flood past the budget costs no hashing.
    if (key === null || msg.length <= MIN_STATELESS_RESET || msg.length < 1 + CID_LEN || this.closing) return;
    if (!this.statelessResetBudget.take()) return;
    const reset = key.resetFor(msg.subarray(1, 1 + CID_LEN), msg.length);
    if (reset === null) return;
    this.counters.statelessResetsSent++;
    this.sender.reply(reset, reset.length, rinfo);
  }

  /**
   * Client: a stateless reset carries no connection ID of ours (its first bytes are random), so it routes
   * nowhere. quiche recognises one by the token at its end, the server's for that connection: each of this
   * endpoint's connections (a client endpoint holds few, all to one server) is shown the datagram, and the
   * one whose token it ends with closes. Anything else is dropped by quiche as undecryptable.
   */
  private checkStatelessReset(msg: Buffer): void {
    if (msg.length < MIN_STATELESS_RESET) return;
    for (const c of this.slots) {
      if (c === undefined || c.finalized) continue;
      try {
        c.q.recv(msg, c.recvInfo);
      } catch {
        // not a packet of this connection
      }
      if (c.q.isClosed()) {
        this.markDirty(c);
        return;
      }
    }
  }

  private drop(reason: DropReason): undefined {
    this.counters.dropped[reason]++;
    return undefined;
  }

  /** Routes a long-header packet: our CID by slot, a client's original DCID by map, else a new Initial. */
  private routeLongHeader(msg: Buffer, rinfo: DatagramSource): Connection | undefined {
    const h = this.header;
    if (!h.read(msg)) return this.drop('malformed');
    if (h.dcidLen === CID_LEN) {
      const c = this.route(msg, DCID_OFFSET);
      if (c !== undefined) return c;
    }
    if (this.byOriginalDcid.size !== 0) {
      // Retransmitted Initials and 0-RTT packets still carry the client's original DCID.
      const known = this.byOriginalDcid.get(originalDcidKey(msg, h.dcidLen));
      if (known !== undefined) return known;
    }
    if (this.acceptor === null) return this.drop('unknown_connection');
    this.acceptor.acceptInitial(msg, rinfo, h);
    return undefined;
  }

  private route(msg: Buffer, offset: number): Connection | undefined {
    const slot = msg.readUInt32BE(offset);
    // Bounds first: a forged slot lies far past the table, and reading past an array is V8's slow path.
    const c = slot < this.slots.length ? this.slots[slot] : undefined;
    if (c !== undefined) {
      const w = c.cidWords;
      if (
        msg.readUInt32BE(offset + 4) === w[0] &&
        msg.readUInt32BE(offset + 8) === w[1] &&
        msg.readUInt32BE(offset + 12) === w[2]
      ) {
        return c;
      }
    }
    // Connections set up through a Retry keep the Retry's connection ID, which carries no slot.
    return this.byRetryCid.size === 0
      ? undefined
      : this.byRetryCid.get(msg.toString('latin1', offset, offset + CID_LEN));
  }

  /**
   * The event-loop flush, in two phases. Reading hands every readable stream's bytes to its handlers;
   * sending runs in a microtask queued behind the promise continuations those handlers released, so
   * what an awaiting caller writes in answer (a client's next request once its last one resolved) leaves
   * in the same packets as the ACKs, not one loop turn later in a second datagram that wakes the peer
   * again.
   */
  private flush(): void {
    this.scheduled = false;
    for (let round = 0; this.dirty.length !== 0; round++) {
      if (round === MAX_FLUSH_ROUNDS) {
        this.scheduled = true;
        setImmediate(this.flushBound);
        break;
      }
      const list = this.dirty;
      this.dirty = this.spare;
      for (let i = 0; i < list.length; i++) {
        const c = list[i]!;
        // Stays dirty until its send: writes made meanwhile do not queue it again, the send picks them up.
        c.dirty = true;
        // One guard per connection, not per packet or callback: a throw ends this connection's read.
        try {
          this.read(c);
        } catch (error) {
          this.callbackFailed(c, error);
        }
        this.reading.push(c);
      }
      list.length = 0;
      this.spare = list;
    }
    if (this.reading.length !== 0) queueMicrotask(this.sendPhaseBound);
  }

  private sendPhase(): void {
    const list = this.reading;
    this.reading = this.readingSpare;
    // Connections whose answers wait for the turn's end (Stream.sendAtTurnEnd) go after the others, so
    // what their reads delivered elsewhere leaves first; the rest keep the order they were read in.
    let last = 0;
    for (let i = 0; i < list.length; i++) {
      const c = list[i]!;
      if (c.sendLast) {
        list[last++] = c;
        continue;
      }
      this.sendGuarded(c);
    }
    for (let i = 0; i < last; i++) this.sendGuarded(list[i]!);
    list.length = 0;
    this.readingSpare = list;
  }

  private sendGuarded(c: Connection): void {
    try {
      this.send(c);
    } catch (error) {
      this.callbackFailed(c, error);
    }
  }

  /**
   * The last-resort guard: handling `c` threw (an application callback, or a defect). Only `c` pays:
   * it is closed with INTERNAL_ERROR_CODE, its application hears onClose now and no other callback
   * after, the error is reported, and the endpoint serves every other connection on.
   */
  private callbackFailed(c: Connection, error: unknown): void {
    c.close(INTERNAL_ERROR_CODE, INTERNAL_ERROR_REASON);
    // The throw may have cut a read or send short: service the connection again so the close leaves.
    if (!c.finalized) {
      c.dirty = false;
      this.markDirty(c);
    }
    this.reportCallbackError(error, c);
    try {
      this.notifyClosed(c, INTERNAL_ERROR_CLOSE);
    } catch (again) {
      this.reportCallbackError(again, c); // onClose threw too; it is not called again
    }
  }

  private reportCallbackError(error: unknown, c: Connection): void {
    const report = this.hooks.onCallbackError;
    let detail = describeError(error);
    if (report !== null) {
      try {
        report(error, c);
        return;
      } catch (reportError) {
        detail = `${detail}\n(onCallbackError threw in turn: ${describeError(reportError)})`;
      }
    }
    // Nobody to tell, or the teller failed: the process hears it, and keeps running.
    process.emitWarning(
      `a callback threw while handling the connection from ${c.remote.host}:${c.remote.port}; ` +
        `it was closed with code 0x1: ${detail}`,
      'TransportCallbackError',
    );
  }

  private read(c: Connection): void {
    if (!c.established && c.q.isEstablished()) this.onEstablished(c);
    if (!c.established || c.closed) return;
    c.readStreams(this.scratch);
    c.checkStreamCredit();
    this.stopWatch.afterRead(c);
  }

  private send(c: Connection): void {
    // Clean before sending: a drain handler that writes to it again queues it for the next flush.
    c.dirty = false;
    c.sendLast = false;
    if (c.finalized) return;
    const q = c.q;
    if (c.established && !c.closed && c.hasPendingWrites) c.retryPending();
    this.sendPackets(c);
    if (q.isClosed()) {
      this.finalize(c, c.closeInfoFromQuiche());
      return;
    }
    if (!c.closed && q.isDraining()) this.notifyClosed(c, c.closeInfoFromQuiche());
    this.armTimer(c);
  }

  private onEstablished(c: Connection): void {
    c.established = true;
    c.lastHeardAt = performance.now();
    this.acceptor?.onEstablished(c);
    this.dialer?.onEstablished(c);
    this.hooks.onConnection?.(c);
  }

  // ConnectionDriver, as markDirty.
  sendNow(c: Connection): void {
    this.sendPackets(c);
  }

  private sendPackets(c: Connection): void {
    if (c.hasGathered) c.handOverGathered();
    // A client's socket is connected to its one peer: no address per send.
    if (this.sender.drain(c.q, this.isServer ? c.remote : null, c.replyFrom))
      c.lastSentAt = performance.now();
  }

  // One timer per connection; an earlier deadline replaces a later one, a later one waits for the
  // earlier to fire and re-arms (onTimeout is harmless when called early).
  private armTimer(c: Connection): void {
    const ms = c.q.timeout();
    if (ms === null) {
      if (c.timer !== null) {
        clearTimeout(c.timer);
        c.timer = null;
        c.deadline = Infinity;
      }
      return;
    }
    const deadline = performance.now() + ms;
    if (c.timer !== null) {
      if (c.deadline <= deadline) return;
      clearTimeout(c.timer);
    }
    c.deadline = deadline;
    c.timer = setTimeout(this.timerBound, ms, c);
  }

  private onTimer(c: Connection): void {
    c.timer = null;
    c.deadline = Infinity;
    if (c.finalized) return;
    try {
      const ms = c.q.timeout();
      if (ms === null) return;
      if (ms > 0) {
        this.armTimer(c);
        return;
      }
      c.q.onTimeout();
      // Read and send at once: nothing is waiting to answer.
      c.dirty = true;
      this.read(c);
      this.send(c);
    } catch (error) {
      this.callbackFailed(c, error);
    }
  }

  private notifyClosed(c: Connection, info: CloseInfo): void {
    this.dialer?.onClosed(c, info);
    c.notifyClosed(info);
  }

  private finalize(c: Connection, info: CloseInfo): void {
    if (c.finalized) return;
    try {
      this.notifyClosed(c, info);
    } finally {
      // Forgotten even when onClose throws: no slot, map entry or timer outlives the connection.
      c.finalized = true;
      if (c.timer !== null) clearTimeout(c.timer);
      c.timer = null;
      this.acceptor?.onFinalized(c);
      this.slots[c.slot] = undefined;
      this.freeSlots.push(c.slot);
      if (c.originalDcid !== null) this.byOriginalDcid.delete(c.originalDcid);
      if (c.retryCid !== null) this.byRetryCid.delete(c.retryCid);
    }
  }

  private allocateSlot(): number {
    return this.freeSlots.pop() ?? this.slots.push(undefined) - 1;
  }

  /** The mirror of finalize's forgetting: from now on `c`'s packets route to it. */
  private adopt(c: Connection): void {
    this.slots[c.slot] = c;
    if (c.originalDcid !== null) this.byOriginalDcid.set(c.originalDcid, c);
    if (c.retryCid !== null) this.byRetryCid.set(c.retryCid, c);
  }
}

function createSocket(host: string, settings: TransportSettings): dgram.Socket {
  return dgram.createSocket({
    type: isIP(host) === 6 ? 'udp6' : 'udp4',
    recvBufferSize: settings.udpRecvBuffer,
    sendBufferSize: settings.udpSendBuffer,
    // Addresses are resolved once up front; a synchronous lookup keeps socket.send synchronous, so the
    // ring's bytes are read (or queued by libuv) before we write the next packet.
    lookup: (address: string, _opts: unknown, cb: (e: Error | null, a: string, f: number) => void) =>
      cb(null, address, isIP(address) === 6 ? 6 : 4),
  } as dgram.SocketOptions);
}

const INTERNAL_ERROR_REASON = 'internal error';
const INTERNAL_ERROR_CLOSE: CloseInfo = Object.freeze({
  code: INTERNAL_ERROR_CODE,
  reason: INTERNAL_ERROR_REASON,
  isApp: true,
  byPeer: false,
  timedOut: false,
});

function describeError(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

function roundTripOf(c: Connection): number {
  return c.roundTripMs();
}
