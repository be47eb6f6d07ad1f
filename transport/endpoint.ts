import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { randomFillSync } from 'node:crypto';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Connection, type ConnectionDriver } from './connection.js';
import { ConnectionClosedError, TransportError, type CloseInfo } from './errors.js';
import { PacketType, quiche, type HostPort, type QuicheConfig } from './native.js';
import {
  MAX_UDP_PACKET,
  applySettings,
  resolveTransportSettings,
  type TransportSettings,
} from './settings.js';
import { isLoopbackHost, resolveClientTlsPolicy, type ClientTlsOptions, type ServerTls } from './tls.js';

/**
 * Our source connection IDs are [u32 routing slot][12 random bytes]: the slot routes a short-header
 * packet with one array index, the random words reject stale or forged IDs without a map lookup.
 */
export const CID_LEN = 16;
const SEND_RING_BYTES = 8 << 20;
// One streamRecv hands over at most this much: small enough that answers to the first requests of a
// burst leave before the last ones are parsed, large enough to keep per-call overhead negligible.
const SCRATCH_BYTES = 32 << 10;
// A flush that keeps producing work (handlers writing to other connections) yields to I/O after this.
const MAX_FLUSH_ROUNDS = 16;
// Unauthenticated handshakes in progress; beyond this new Initials are ignored until some finish.
const MAX_HANDSHAKES = 4096;

export interface EndpointOptions {
  readonly settings?: Partial<TransportSettings>;
}

export interface ListenOptions extends EndpointOptions {
  readonly host?: string;
  readonly port?: number;
  readonly tls: ServerTls;
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

interface PendingConnect {
  resolve(c: Connection): void;
  reject(e: Error): void;
}

/**
 * One UDP socket, many QUIC connections, one event-loop-driven engine: datagrams are fed to quiche as they
 * arrive and every connection touched in a poll batch is serviced once, in one flush (setImmediate), which
 * also coalesces ACKs and batches sends. No promise or await per packet.
 */
export class Endpoint implements ConnectionDriver {
  readonly settings: TransportSettings;
  private readonly slots: (Connection | undefined)[] = [];
  private readonly freeSlots: number[] = [];
  private readonly byOriginalDcid = new Map<string, Connection>();
  private dirty: Connection[] = [];
  private spare: Connection[] = [];
  private scheduled = false;
  private ring = Buffer.allocUnsafe(SEND_RING_BYTES);
  private ringOffset = 0;
  private readonly scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
  private handshakes = 0;
  private closing = false;
  private accepting = true;
  private socketClosed = false;
  private readonly connects = new Map<Connection, PendingConnect>();
  private readonly keepAliveTimer: NodeJS.Timeout | null;
  private readonly flushBound = (): void => this.flush();
  private readonly sendPhaseBound = (): void => this.sendPhase();
  /** Connections read in this flush, whose packets the send phase sends. */
  private reading: Connection[] = [];
  private readingSpare: Connection[] = [];
  private readonly timerBound = (c: Connection): void => this.onTimer(c);

  private constructor(
    private readonly socket: dgram.Socket,
    readonly isServer: boolean,
    settings: TransportSettings,
    /** The bound (server) or connected (client) local address: quiche needs the same one on every packet. */
    readonly local: HostPort,
    private readonly configs: { readonly wan: QuicheConfig; readonly loopback: QuicheConfig },
    private readonly onConnection: ((c: Connection) => void) | null,
    /** Client only: the one peer this endpoint's connected socket talks to. */
    private readonly peer: (HostPort & { readonly serverName: string }) | null,
  ) {
    this.settings = settings;
    socket.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo));
    // Send errors (e.g. ICMP unreachable reported on a connected socket) are per packet; QUIC recovers
    // or times out, so they must not crash the process.
    socket.on('error', () => undefined);
    const keepAlive = settings.keepAliveMs;
    this.keepAliveTimer =
      keepAlive > 0 ? setInterval(() => this.keepAlive(keepAlive), Math.max(1, keepAlive >> 1)) : null;
    this.keepAliveTimer?.unref();
  }

  /** Starts a server endpoint. */
  static async listen(opts: ListenOptions): Promise<Endpoint> {
    const settings = resolveTransportSettings(opts.settings);
    const host = opts.host ?? '0.0.0.0';
    const socket = createSocket(host, settings);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(opts.port ?? 0, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const addr = socket.address();
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
      applySettings(c, settings, payload);
      return c;
    };
    const configs = {
      wan: serverConfig(settings.maxUdpPayload),
      loopback: serverConfig(settings.loopbackUdpPayload),
    };
    return new Endpoint(
      socket,
      true,
      settings,
      { host: addr.address, port: addr.port },
      configs,
      opts.onConnection,
      null,
    );
  }

  /** Creates a client endpoint whose socket is connected to one server; connect() opens connections to it. */
  static async client(opts: ClientEndpointOptions): Promise<Endpoint> {
    const settings = resolveTransportSettings(opts.settings);
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
      applySettings(c, settings, payload);
      return c;
    };
    const loopback = isLoopbackHost(address);
    const config = clientConfig(loopback ? settings.loopbackUdpPayload : settings.maxUdpPayload);
    return new Endpoint(
      socket,
      false,
      settings,
      { host: addr.address, port: addr.port },
      { wan: config, loopback: config },
      null,
      { host: address, port: opts.port, serverName: policy.serverName },
    );
  }

  get address(): HostPort {
    return this.local;
  }

  /** Live connections (handshaking ones included). */
  get connections(): Connection[] {
    return this.slots.filter((c): c is Connection => c !== undefined);
  }

  /**
   * Client only: opens a new connection to the endpoint's server; resolves when the handshake completes,
   * rejects with a TransportError 'connect_timeout' (after closing the attempt) when `timeoutMs` passes first.
   */
  connect(opts: { readonly timeoutMs?: number } = {}): Promise<Connection> {
    const peer = this.peer;
    if (peer === null)
      return Promise.reject(new TransportError('connect() is for client endpoints', 'not_client'));
    if (this.closing) return Promise.reject(new TransportError('endpoint is closed', 'endpoint_closed'));
    const slot = this.allocateSlot();
    const scid = makeCid(slot);
    const q = quiche.Connection.connect(peer.serverName, scid, this.local, peer, this.configs.wan);
    const conn = new Connection(
      q,
      this,
      false,
      this.local,
      { host: peer.host, port: peer.port },
      slot,
      cidWords(scid),
    );
    this.slots[slot] = conn;
    const promise = new Promise<Connection>((resolve, reject) => {
      const timeoutMs = opts.timeoutMs;
      if (timeoutMs === undefined) {
        this.connects.set(conn, { resolve, reject });
        return;
      }
      const timer = setTimeout(() => {
        if (!this.connects.delete(conn)) return;
        conn.close(0, 'connect timeout');
        reject(
          new TransportError(
            `no handshake with ${peer.host}:${peer.port} within ${timeoutMs} ms`,
            'connect_timeout',
          ),
        );
      }, timeoutMs);
      this.connects.set(conn, {
        resolve: (c) => {
          clearTimeout(timer);
          resolve(c);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
    this.markDirty(conn);
    return promise;
  }

  /**
   * Closes every connection with `code`/`reason` (the peers receive them), waits at most `timeoutMs` for the
   * close packets to leave, then releases the socket. Connections do not linger in QUIC's draining period.
   */
  async close(opts: EndpointCloseOptions = {}): Promise<void> {
    if (this.socketClosed) return;
    this.closing = true;
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
    for (const c of this.connections) this.finalize(c, localClose);
    const deadline = performance.now() + (opts.timeoutMs ?? 1000);
    while (this.socket.getSendQueueCount() > 0 && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1));
    }
    this.socketClosed = true;
    if (this.keepAliveTimer !== null) clearInterval(this.keepAliveTimer);
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  /** Server: ignores new handshakes from now on (e.g. while draining); existing connections carry on. */
  stopAccepting(): void {
    this.accepting = false;
  }

  /** @internal */
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
      if (c === undefined || !c.established || c.closed || now - c.lastSentAt < intervalMs) continue;
      c.q.sendAckEliciting();
      this.markDirty(c);
    }
  }

  private onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (msg.length < 1 + CID_LEN) return;
    let c: Connection | undefined;
    if ((msg[0]! & 0x80) === 0) {
      c = this.route(msg, 1);
    } else {
      // Long header: flags(1) version(4) dcid_len(1) dcid
      if (msg[5] === CID_LEN) c = this.route(msg, 6);
      if (c === undefined) {
        if (!this.isServer) return;
        c = this.acceptInitial(msg, rinfo);
      }
    }
    if (c === undefined || c.finalized) return;
    try {
      c.q.recv(msg, c.recvInfo);
    } catch {
      // quiche records a fatal error on the connection and emits CONNECTION_CLOSE at the next send;
      // a merely undecryptable packet is dropped inside quiche without an error.
    }
    this.markDirty(c);
  }

  private route(msg: Buffer, offset: number): Connection | undefined {
    const c = this.slots[msg.readUInt32BE(offset)];
    if (c === undefined) return undefined;
    const w = c.cidWords;
    if (
      msg.readUInt32BE(offset + 4) !== w[0] ||
      msg.readUInt32BE(offset + 8) !== w[1] ||
      msg.readUInt32BE(offset + 12) !== w[2]
    ) {
      return undefined;
    }
    return c;
  }

  private acceptInitial(msg: Buffer, rinfo: dgram.RemoteInfo): Connection | undefined {
    let hdr;
    try {
      hdr = quiche.Header.fromSlice(msg, CID_LEN);
    } catch {
      return undefined;
    }
    const key = Buffer.from(hdr.dcid.buffer, hdr.dcid.byteOffset, hdr.dcid.byteLength).toString('hex');
    const known = this.byOriginalDcid.get(key);
    if (known !== undefined) return known;
    if (hdr.ty !== PacketType.Initial || this.closing || !this.accepting) return undefined;
    if (!quiche.versionIsSupported(hdr.version)) {
      const out = Buffer.allocUnsafe(1200);
      const n = quiche.negotiateVersion(hdr.scid, hdr.dcid, out);
      this.socket.send(out, 0, n, rinfo.port, rinfo.address);
      return undefined;
    }
    // RFC 9000 §14.1: a client Initial below 1200 bytes must be dropped (amplification defence).
    if (msg.length < quiche.MIN_CLIENT_INITIAL_LEN || this.handshakes >= MAX_HANDSHAKES) return undefined;
    const peer = { host: rinfo.address, port: rinfo.port };
    const config = isLoopbackHost(peer.host) ? this.configs.loopback : this.configs.wan;
    const slot = this.allocateSlot();
    const scid = makeCid(slot);
    let q;
    try {
      q = quiche.Connection.accept(scid, null, this.local, peer, config);
    } catch {
      this.freeSlots.push(slot);
      return undefined;
    }
    const conn = new Connection(q, this, true, this.local, peer, slot, cidWords(scid));
    try {
      q.recv(msg, conn.recvInfo);
    } catch {
      // handled below: nothing was accepted
    }
    // An Initial that fails to decrypt leaves quiche with nothing received: forget it at once instead of
    // holding a slot until the idle timeout (a flood of forged Initials must not exhaust the table).
    if (q.stats().recv === 0) {
      this.freeSlots.push(slot);
      return undefined;
    }
    this.slots[slot] = conn;
    this.byOriginalDcid.set(key, conn);
    conn.originalDcid = key;
    this.handshakes++;
    this.markDirty(conn);
    return undefined; // already fed to quiche
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
        this.read(c);
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
    for (let i = 0; i < list.length; i++) this.send(list[i]!);
    list.length = 0;
    this.readingSpare = list;
  }

  /** Reads and sends at once (timers, shutdown): nothing is waiting to answer. */
  private service(c: Connection): void {
    c.dirty = true;
    this.read(c);
    this.send(c);
  }

  private read(c: Connection): void {
    if (!c.established && c.q.isEstablished()) this.onEstablished(c);
    if (c.established && !c.closed) c.readStreams(this.scratch);
  }

  private send(c: Connection): void {
    // Clean before sending: a drain handler that writes to it again queues it for the next flush.
    c.dirty = false;
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
    if (this.isServer) {
      this.handshakes--;
      this.onConnection?.(c);
    } else {
      const pending = this.connects.get(c);
      this.connects.delete(c);
      pending?.resolve(c);
    }
  }

  /** @internal */
  sendNow(c: Connection): void {
    this.sendPackets(c);
  }

  private sendPackets(c: Connection): void {
    if (c.hasGathered) c.handOverGathered();
    const socket = this.socket;
    const q = c.q;
    const connected = !this.isServer;
    let sent = false;
    for (;;) {
      if (this.ringOffset + MAX_UDP_PACKET > this.ring.length) {
        // libuv may still hold unsent views of the ring (EAGAIN): only reuse it once its queue is empty.
        if (socket.getSendQueueCount() !== 0) this.ring = Buffer.allocUnsafe(SEND_RING_BYTES);
        this.ringOffset = 0;
      }
      const offset = this.ringOffset;
      let r;
      try {
        r = q.send(this.ring.subarray(offset, offset + MAX_UDP_PACKET));
      } catch {
        break;
      }
      if (r === null) break;
      const n = r[0];
      if (connected) socket.send(this.ring, offset, n);
      else socket.send(this.ring, offset, n, c.remote.port, c.remote.host);
      this.ringOffset = offset + n;
      sent = true;
    }
    if (sent) c.lastSentAt = performance.now();
    if (socket.getSendQueueCount() === 0) this.ringOffset = 0;
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
    const ms = c.q.timeout();
    if (ms === null) return;
    if (ms > 0) {
      this.armTimer(c);
      return;
    }
    c.q.onTimeout();
    this.service(c);
  }

  private notifyClosed(c: Connection, info: CloseInfo): void {
    const pending = this.connects.get(c);
    if (pending !== undefined) {
      this.connects.delete(c);
      pending.reject(new ConnectionClosedError(`connection failed: ${info.reason}`, info));
    }
    c.notifyClosed(info);
  }

  private finalize(c: Connection, info: CloseInfo): void {
    if (c.finalized) return;
    this.notifyClosed(c, info);
    c.finalized = true;
    if (c.timer !== null) clearTimeout(c.timer);
    c.timer = null;
    if (this.isServer && !c.established) this.handshakes--;
    this.slots[c.slot] = undefined;
    this.freeSlots.push(c.slot);
    if (c.originalDcid !== null) this.byOriginalDcid.delete(c.originalDcid);
  }

  private allocateSlot(): number {
    return this.freeSlots.pop() ?? this.slots.push(undefined) - 1;
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

function makeCid(slot: number): Buffer {
  const cid = randomFillSync(Buffer.allocUnsafe(CID_LEN));
  cid.writeUInt32BE(slot, 0);
  return cid;
}

function cidWords(cid: Buffer): [number, number, number] {
  return [cid.readUInt32BE(4), cid.readUInt32BE(8), cid.readUInt32BE(12)];
}
