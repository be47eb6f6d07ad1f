// A server's answer to a long-header datagram from a peer it has no connection with: admit it (a new
// connection), ask it to prove its address (Retry), refuse it (CONNECTION_REFUSED), tell it our version
// (Version Negotiation), or drop it. Every answer but admission keeps no state, and each is budgeted,
// since a forged source address can ask for any of them.
import { randomFillSync } from 'node:crypto';
import type { Admission, AdmissionRefusal } from './admission.js';
import type { AddressValidator } from './address-validation.js';
import { Connection, type ConnectionDriver } from './connection.js';
import { CID_LEN, cidWords, makeCid, originalDcidKey, type ConnectionTable } from './connection-ids.js';
import type { DatagramCounters, DropReason } from './datagram-stats.js';
import type { CloseInfo } from './errors.js';
import { initialDecrypts, sealInitialRefusal } from './initial-protection.js';
import {
  DCID_OFFSET,
  MIN_INITIAL_DATAGRAM,
  MIN_INITIAL_DCID_LEN,
  PACKET_INITIAL,
  QUIC_V1,
  type LongHeader,
} from './long-header.js';
import { quiche, type HostPort, type QuicheConfig, type QuicheConnection } from './native.js';
import type { PacketSender } from './packet-sender.js';
import { PerSecondBudget } from './per-second.js';
import type { DatagramSource } from './sockaddr.js';
import type { StatelessResetKey } from './stateless-reset.js';
import { isLoopbackHost } from './tls.js';

// Unauthenticated handshakes in progress; beyond this new Initials are ignored until some finish.
const MAX_HANDSHAKES = 4096;
// Version Negotiation answers per second at most: each costs a send, and garbage can ask for them (from a
// forged source address, too).
const MAX_VERSION_NEGOTIATIONS_PER_SECOND = 1000;
// Refusals (CONNECTION_CLOSE in an Initial) per second at most: each is a send a forged Initial can ask for.
const MAX_REFUSALS_PER_SECOND = 1000;
/** Why a new client's first packet is refused with CONNECTION_REFUSED: a limit, or a server not accepting. */
type Refusal = AdmissionRefusal | 'not_accepting';
/** The reason a refused client reads (CloseInfo.reason on its side), by limit. */
const REFUSAL_REASONS: Readonly<Record<Refusal, string>> = {
  connection_limit: 'connection limit reached: the server holds its maximum of connections',
  address_limit: 'connection limit reached for this address',
  not_accepting: 'not accepting connections: the server is shutting down',
};
// Retry packets per second at most. A Retry is smaller than the Initial it answers, so this only bounds the
// work of a flood; a client refused a Retry now gets one for a retransmission.
const MAX_RETRIES_PER_SECOND = 20_000;

/** What a server takes new clients on with. */
export interface ServerAcceptance {
  /** The TLS and transport configs a new connection starts from, by whether its peer is on loopback. */
  readonly configs: { readonly wan: QuicheConfig; readonly loopback: QuicheConfig };
  /** Which new connections are taken on. */
  readonly admission: Admission;
  /** When new clients must prove their address with a Retry. */
  readonly validator: AddressValidator;
  /** What stateless reset tokens are derived from. */
  readonly resetKey: StatelessResetKey;
}

/** The endpoint as the acceptor works with it: its routing table, and what it sends and counts with. */
export interface AcceptorHost extends ConnectionTable {
  readonly sender: PacketSender;
  readonly counters: DatagramCounters;
  /** The last-resort report of a throw while handling `conn` (see Endpoint's onCallbackError). */
  reportCallbackError(error: unknown, conn: Connection): void;
}

export class InitialAcceptor {
  private readonly driver: ConnectionDriver;
  private readonly local: HostPort;
  private readonly sender: PacketSender;
  private readonly counters: DatagramCounters;
  private readonly configs: ServerAcceptance['configs'];
  private readonly admission: Admission;
  private readonly validator: AddressValidator;
  private readonly resetKey: StatelessResetKey;
  private accepting = true;
  /** Handshakes admitted and not yet established or forgotten (MAX_HANDSHAKES). */
  private handshakes = 0;
  private readonly versionNegotiationBudget = new PerSecondBudget(MAX_VERSION_NEGOTIATIONS_PER_SECOND);
  private readonly retryBudget = new PerSecondBudget(MAX_RETRIES_PER_SECOND);
  private readonly refusalBudget = new PerSecondBudget(MAX_REFUSALS_PER_SECOND);
  /** Handshakes in progress with a handshake deadline, and its timer. */
  private readonly handshakeTimers = new Map<Connection, NodeJS.Timeout>();

  constructor(
    private readonly endpoint: AcceptorHost,
    acceptance: ServerAcceptance,
  ) {
    this.driver = endpoint.driver;
    this.local = endpoint.local;
    this.sender = endpoint.sender;
    this.counters = endpoint.counters;
    this.configs = acceptance.configs;
    this.admission = acceptance.admission;
    this.validator = acceptance.validator;
    this.resetKey = acceptance.resetKey;
  }

  /** New clients are refused from now on (the server is draining or closing); existing connections carry on. */
  stopAccepting(): void {
    this.accepting = false;
  }

  /**
   * A long-header datagram for no connection, on a server. The cheap checks come first (byte reads,
   * endpoint state), then the Initial's AEAD check; only a datagram that decrypts gets a quiche
   * connection, and only one that quiche accepts gets a slot, a map entry, a Connection and a timer.
   */
  acceptInitial(msg: Buffer, rinfo: DatagramSource, h: LongHeader): void {
    if (h.version !== QUIC_V1) {
      // Version 0 is a Version Negotiation packet: never answered. A short datagram could not have
      // started a connection in any version, so it gets no answer either (RFC 9000 §5.2.2, §14.1).
      if (h.version !== 0 && msg.length >= MIN_INITIAL_DATAGRAM && this.mayNegotiateVersion()) {
        this.negotiateVersion(msg, rinfo, h);
      }
      this.drop('unsupported_version');
      return;
    }
    if (h.type !== PACKET_INITIAL || !h.fixedBit) return this.drop('not_initial');
    // RFC 9000 §14.1: a client Initial below 1200 bytes must be dropped (amplification defence).
    if (msg.length < MIN_INITIAL_DATAGRAM || h.dcidLen < MIN_INITIAL_DCID_LEN)
      return this.drop('small_initial');
    if (!h.readInitial(msg)) return this.drop('malformed');
    if (!this.accepting) {
      // Told at once, as a client over a limit is, rather than left to retransmit until its own timeout.
      this.refuse(msg, rinfo, h, 'not_accepting');
      return this.drop('not_accepting');
    }
    // A token can only be one of our Retry tokens (we issue no NEW_TOKEN): it names the client's original
    // connection ID, and proves the client receives at its source address.
    let odcid: Buffer | null = null;
    if (h.tokenLen !== 0) {
      odcid = this.validator.validate(
        msg.subarray(h.tokenOffset, h.tokenOffset + h.tokenLen),
        rinfo.address,
        msg.subarray(DCID_OFFSET, DCID_OFFSET + h.dcidLen),
      );
      if (odcid === null) return this.drop('invalid_token');
    }
    if (this.handshakes >= MAX_HANDSHAKES) return this.drop('handshake_limit');
    const overLimit = this.admission.limitRefusal(rinfo.address);
    if (overLimit !== null) {
      this.refuse(msg, rinfo, h, overLimit);
      return this.drop(overLimit);
    }
    // Retry before the AEAD check: the check is the dearest step before state (two native cipher contexts
    // per Initial, freed only by a later GC), and a Retry is a tenth of the Initial's size, so answering a
    // forged Initial with one gains a forger nothing.
    if (odcid === null && this.validator.retryRequired()) {
      this.sendRetry(msg, rinfo, h);
      return;
    }
    if (!initialDecrypts(msg, h)) return this.drop('undecryptable');
    // Taken only by an Initial that decrypts: garbage cannot spend the handshake budget.
    if (!this.admission.takeHandshakeToken()) return this.drop('handshake_rate');

    const peer = { host: rinfo.address, port: rinfo.port };
    const config = isLoopbackHost(peer.host) ? this.configs.loopback : this.configs.wan;
    const slot = this.endpoint.allocateSlot();
    // After a Retry the connection keeps the ID the Retry gave the client (quiche checks it against the
    // retry_source_connection_id it announces); otherwise a fresh one carrying the routing slot.
    const scid =
      odcid === null ? makeCid(slot) : Buffer.from(msg.subarray(DCID_OFFSET, DCID_OFFSET + h.dcidLen));
    let q: QuicheConnection;
    try {
      // quiche copies the token into this connection's transport parameters at accept.
      config.setStatelessResetToken(this.resetKey.tokenValue(scid));
      q = quiche.Connection.accept(scid, odcid, this.local, peer, config);
    } catch {
      this.endpoint.freeSlot(slot);
      return;
    }
    const recvInfo = { from: peer, to: this.local };
    try {
      q.recv(msg, recvInfo);
    } catch {
      // handled below: a local error means quiche refused the handshake
    }
    if (q.localError() !== null) {
      // Refused in the first flight (no ALPN in common, a TLS or protocol error): send quiche's
      // CONNECTION_CLOSE now and keep nothing; a retransmitted Initial is refused again the same way.
      this.endpoint.freeSlot(slot);
      this.counters.handshakesRefused++;
      this.sender.drain(q, peer, rinfo.local ?? null);
      return;
    }
    if (q.stats().recv === 0) {
      this.endpoint.freeSlot(slot);
      this.drop('undecryptable');
      return;
    }
    const conn = new Connection(q, this.driver, true, this.local, peer, slot, cidWords(scid));
    conn.replyFrom = rinfo.local ?? null;
    const key = originalDcidKey(msg, h.dcidLen);
    if (odcid === null) {
      conn.originalDcid = key;
    } else {
      // The Initial's DCID is the Retry's connection ID, now this connection's own for good.
      conn.retryCid = key;
      this.counters.retriesValidated++;
    }
    this.endpoint.adopt(conn);
    this.handshakes++;
    this.admission.admitted(peer.host);
    const timeoutMs = this.admission.limits.handshakeTimeoutMs;
    if (timeoutMs > 0) {
      const timer = setTimeout(() => this.handshakeTimedOut(conn), timeoutMs);
      timer.unref();
      this.handshakeTimers.set(conn, timer);
    }
    this.driver.markDirty(conn);
  }

  /** An admitted connection finished its handshake: it no longer counts against MAX_HANDSHAKES or a deadline. */
  onEstablished(c: Connection): void {
    this.handshakes--;
    this.clearHandshakeTimer(c);
  }

  /** An admitted connection is forgotten: its handshake (if unfinished) and its admission are released. */
  onFinalized(c: Connection): void {
    if (!c.established) this.handshakes--;
    this.clearHandshakeTimer(c);
    this.admission.released(c.remote.host);
  }

  private drop(reason: DropReason): void {
    this.counters.dropped[reason]++;
  }

  /**
   * Tells a client refused by a connection limit (or by a server that stopped accepting) so, in an Initial
   * it can read (CONNECTION_REFUSED with the limit as the reason): its connect fails at once with that
   * reason instead of retransmitting into silence until its own timeout. Nothing is kept; at most a fixed
   * number per second, each a few dozen bytes.
   */
  private refuse(msg: Buffer, rinfo: DatagramSource, h: LongHeader, why: Refusal): void {
    if (!this.refusalBudget.take()) return;
    const packet = sealInitialRefusal(
      msg.subarray(h.scidOffset, h.scidOffset + h.scidLen),
      msg.subarray(DCID_OFFSET, DCID_OFFSET + h.dcidLen),
      randomFillSync(Buffer.allocUnsafe(8)),
      REFUSAL_REASONS[why],
    );
    this.counters.refusalsSent++;
    this.sender.reply(packet, packet.length, rinfo);
  }

  /**
   * Answers a new client's Initial with a Retry (RFC 9000 §17.2.5): a new connection ID to use and a token
   * to come back with. Nothing is kept; the Retry is smaller than the Initial, so a forged source address
   * gains an attacker nothing.
   */
  private sendRetry(msg: Buffer, rinfo: DatagramSource, h: LongHeader): void {
    if (!this.retryBudget.take()) return;
    const dcid = msg.subarray(DCID_OFFSET, DCID_OFFSET + h.dcidLen);
    const scid = msg.subarray(h.scidOffset, h.scidOffset + h.scidLen);
    // Random, with no slot: the connection is created, and a slot taken, only when the client comes back.
    const retryScid = randomFillSync(Buffer.allocUnsafe(CID_LEN));
    const token = this.validator.mint(rinfo.address, dcid, retryScid);
    const out = Buffer.allocUnsafe(MIN_INITIAL_DATAGRAM);
    let n: number;
    try {
      n = quiche.retry(scid, dcid, retryScid, token, h.version, out);
    } catch {
      return;
    }
    this.counters.retriesSent++;
    this.sender.reply(out, n, rinfo);
  }

  /**
   * A handshake outlived handshakeTimeoutMs: forgotten now, without a packet (the peer's address was
   * never validated, so nothing more is sent to it), freeing its slot for someone else.
   */
  private handshakeTimedOut(c: Connection): void {
    this.handshakeTimers.delete(c);
    if (c.established || c.finalized) return;
    this.counters.handshakesTimedOut++;
    try {
      this.endpoint.finalize(c, HANDSHAKE_TIMEOUT_CLOSE);
    } catch (error) {
      this.endpoint.reportCallbackError(error, c);
    }
  }

  private clearHandshakeTimer(c: Connection): void {
    const timer = this.handshakeTimers.get(c);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.handshakeTimers.delete(c);
  }

  private mayNegotiateVersion(): boolean {
    return this.versionNegotiationBudget.take();
  }

  private negotiateVersion(msg: Buffer, rinfo: DatagramSource, h: LongHeader): void {
    const dcid = msg.subarray(DCID_OFFSET, DCID_OFFSET + h.dcidLen);
    const scid = msg.subarray(h.scidOffset, h.scidOffset + h.scidLen);
    const out = Buffer.allocUnsafe(MIN_INITIAL_DATAGRAM);
    let n: number;
    try {
      n = quiche.negotiateVersion(scid, dcid, out);
    } catch {
      return;
    }
    this.counters.versionNegotiations++;
    this.sender.reply(out, n, rinfo);
  }
}

const HANDSHAKE_TIMEOUT_CLOSE: CloseInfo = Object.freeze({
  code: 0,
  reason: 'handshake timeout',
  isApp: false,
  byPeer: false,
  timedOut: true,
});
