import type dgram from 'node:dgram';
import {
  EAGAIN,
  ECONNREFUSED,
  EINTR,
  MSG_DONTWAIT,
  loadLibc,
  socketHandle,
  writeAddress,
  type Libc,
  type PollHandle,
  type UdpHandle,
} from './libc.js';
import type { UdpBatchingMode } from './settings.js';
import { PerSecondBudget } from './per-second.js';
import { decodeSockaddr, type DatagramSource } from './sockaddr.js';
import { LOCAL_ADDRESS_CONTROL_BYTES, readLocalAddress, reportLocalAddresses } from './local-address.js';

/**
 * Reads an endpoint's socket with recvmmsg: every datagram waiting is fetched in one system call into
 * one reused slab, and handed over as a view of it. Node's dgram makes one recvmsg, one malloc'd Buffer,
 * one address object and one callback into JavaScript per datagram (~2.4 µs of CPU each here, against
 * ~0.6 µs this way), and its Buffers wait for a scavenge. Node stops reading the socket (its handle's
 * recvStop); a close-on-exec duplicate of the descriptor is watched in the same event loop (libuv poll,
 * through koffi), so Node's own sends on the socket are untouched.
 */

/** Datagrams one call may fetch. */
const SLOTS = 64;
/** Bytes per datagram: the largest UDP payload, so nothing is ever truncated. */
const SLOT_BYTES = 65_536;
/** recvmmsg calls per readable event at most; the poll fires again while more wait. */
const MAX_CALLS_PER_EVENT = 8;
/** struct mmsghdr: a msghdr (56 bytes) and the received length, padded to 64. */
const MMSG = 64;
const NAME_BYTES = 28; // sockaddr_in6, the larger of the two families

export interface BatchReceiveStats {
  readonly active: boolean;
  /** recvmmsg calls that returned datagrams. */
  readonly calls: number;
  readonly datagrams: number;
  readonly inactiveReason: string | null;
}

/**
 * The sender of the datagram being handed over, and where it was sent to, decoded only when asked (rare
 * paths: new connections, answers to unknown ones).
 */
class SlotSource implements DatagramSource {
  index = 0;
  constructor(
    private readonly names: Buffer,
    private readonly vec: Buffer,
    /** Each slot's control messages, or null when the socket does not report destinations. */
    private readonly control: Buffer | null,
  ) {}
  get address(): string {
    return decodeSockaddr(this.names, this.index * NAME_BYTES).address;
  }
  get port(): number {
    return this.names.readUInt16BE(this.index * NAME_BYTES + 2);
  }
  get local(): string | null {
    if (this.control === null) return null;
    const length = this.vec.readUInt32LE(this.index * MMSG + 40); // msg_controllen, as the kernel wrote it
    return readLocalAddress(this.control, this.index * LOCAL_ADDRESS_CONTROL_BYTES, length);
  }
}

export class BatchReceiver {
  private readonly data = Buffer.allocUnsafe(SLOTS * SLOT_BYTES);
  private readonly vec = Buffer.alloc(SLOTS * MMSG);
  private readonly iov = Buffer.alloc(SLOTS * 16);
  private readonly names = Buffer.alloc(SLOTS * NAME_BYTES);
  /** Each slot's control messages (the datagram's destination), when the socket reports them. */
  private readonly control: Buffer | null;
  private readonly vecAddress: number;
  private readonly source: SlotSource;
  private readonly poll: PollHandle;
  private calls = 0;
  private datagrams = 0;
  private inactiveReason: string | null = null;
  private closed = false;
  /** One warning a second for datagrams whose handling threw; the rest are counted into the next one. */
  private readonly warningBudget = new PerSecondBudget(1);
  private unreportedThrows = 0;

  private constructor(
    private readonly lib: Libc,
    private readonly fd: number,
    private readonly handle: UdpHandle,
    private readonly onDatagram: (msg: Buffer, from: DatagramSource) => void,
    private readonly onUnreachable: () => void,
    reportsLocal: boolean,
  ) {
    this.control = reportsLocal ? Buffer.alloc(SLOTS * LOCAL_ADDRESS_CONTROL_BYTES) : null;
    this.source = new SlotSource(this.names, this.vec, this.control);
    const controlAddress = this.control === null ? 0 : lib.address(this.control);
    const dataAddress = lib.address(this.data);
    const iovAddress = lib.address(this.iov);
    const namesAddress = lib.address(this.names);
    this.vecAddress = lib.address(this.vec);
    for (let i = 0; i < SLOTS; i++) {
      writeAddress(this.iov, i * 16, dataAddress + i * SLOT_BYTES);
      writeAddress(this.iov, i * 16 + 8, SLOT_BYTES);
      writeAddress(this.vec, i * MMSG, namesAddress + i * NAME_BYTES); // msg_name
      this.vec.writeUInt32LE(NAME_BYTES, i * MMSG + 8); // msg_namelen
      writeAddress(this.vec, i * MMSG + 16, iovAddress + i * 16); // msg_iov
      this.vec.writeUInt32LE(1, i * MMSG + 24); // msg_iovlen
      if (this.control !== null) {
        writeAddress(this.vec, i * MMSG + 32, controlAddress + i * LOCAL_ADDRESS_CONTROL_BYTES); // msg_control
        this.vec.writeUInt32LE(LOCAL_ADDRESS_CONTROL_BYTES, i * MMSG + 40); // msg_controllen
      }
    }
    this.poll = lib.pollReadable(fd, (failed) => {
      this.onReadable();
      // A socket error (a connected socket's ICMP port unreachable: the server went away) makes libuv stop
      // watching; the read above took the error off the socket, so watch again, or a server that comes
      // back on the same port would never be heard.
      if (failed && !this.closed) this.poll.restart();
    });
  }

  /**
   * Takes over reading `socket` (bound or connected), or returns why it cannot: off by setting, not Linux
   * x64, koffi missing, no descriptor. Datagrams Node already read still arrive through its 'message'.
   */
  static open(
    socket: dgram.Socket,
    mode: UdpBatchingMode,
    onDatagram: (msg: Buffer, from: DatagramSource) => void,
    onUnreachable: () => void = () => undefined,
    /** Report each datagram's destination (a socket bound to every address): its family, else null. */
    localAddresses: { readonly ipv6: boolean } | null = null,
  ): BatchReceiver | string {
    if (mode === 'off') return 'off by setting (FELIX_UDP_RECVMMSG=off)';
    const lib = loadLibc();
    if (typeof lib === 'string') return `batched receive unavailable: ${lib}`;
    const { fd, handle } = socketHandle(socket);
    if (fd < 0 || handle === null) return 'the socket has no descriptor Node exposes';
    const own = lib.dupCloexec(fd);
    if (own < 0) return `dup of the socket failed (errno ${lib.errno()})`;
    // Without destinations, answers leave from the routed address, as they do through Node.
    const reportsLocal =
      localAddresses !== null && reportLocalAddresses(lib, own, localAddresses.ipv6) === null;
    handle.recvStop();
    return new BatchReceiver(lib, own, handle, onDatagram, onUnreachable, reportsLocal);
  }

  /** Whether each datagram's destination is read (a socket bound to every address that asked for it). */
  get reportsDestinations(): boolean {
    return this.control !== null;
  }

  stats(): BatchReceiveStats {
    return {
      active: !this.closed && this.inactiveReason === null,
      calls: this.calls,
      datagrams: this.datagrams,
      inactiveReason: this.inactiveReason,
    };
  }

  /** Stops watching and releases the duplicate descriptor; before the socket itself is closed. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.poll.stop();
    this.poll.close();
    this.lib.close(this.fd);
  }

  private onReadable(): void {
    if (this.closed) return;
    const lib = this.lib;
    const vec = this.vec;
    for (let call = 0; call < MAX_CALLS_PER_EVENT; call++) {
      const n = lib.recvmmsg(this.fd, this.vecAddress, SLOTS, MSG_DONTWAIT, 0);
      if (n < 0) {
        const errno = lib.errno();
        if (errno === EAGAIN) return;
        if (errno === EINTR) continue;
        // A connected socket reports an ICMP port unreachable once, on a read: told to the endpoint (a
        // handshake in progress tries again sooner); QUIC's timers deal with established connections.
        if (errno === ECONNREFUSED) {
          this.onUnreachable();
          continue;
        }
        this.handBack(`recvmmsg failed (errno ${errno})`);
        return;
      }
      if (n === 0) return;
      this.calls++;
      this.datagrams += n;
      const source = this.source;
      for (let i = 0; i < n; i++) {
        const at = i * MMSG;
        const length = vec.readUInt32LE(at + 56);
        vec.writeUInt32LE(NAME_BYTES, at + 8); // the kernel wrote the name's length over it
        source.index = i;
        // A view of the slab: every consumer copies what it keeps before the next call overwrites it.
        const msg = this.data.subarray(i * SLOT_BYTES, i * SLOT_BYTES + length);
        try {
          this.onDatagram(msg, source);
        } catch (error) {
          // A defect handling one datagram: the rest of the batch is still served, and the process hears it
          // (an exception cannot travel out of a libuv poll callback the way it leaves a 'message' event).
          // At most one a second: a defect a peer can trigger must not turn its flood into a flood of warnings.
          this.reportThrow(error);
        }
        if (this.closed) return;
        // The kernel wrote the control messages' length over it (read by source.local meanwhile).
        if (this.control !== null) vec.writeUInt32LE(LOCAL_ADDRESS_CONTROL_BYTES, at + 40);
      }
      if (n < SLOTS) return;
    }
  }

  /** An error this path cannot read past: Node reads the socket again, as it did before open(). */
  private reportThrow(error: unknown): void {
    if (!this.warningBudget.take()) {
      this.unreportedThrows++;
      return;
    }
    const earlier = this.unreportedThrows;
    this.unreportedThrows = 0;
    process.emitWarning(
      `handling a datagram threw: ${String(error)}` +
        (earlier === 0 ? '' : ` (and ${earlier} more since the last warning, not reported one by one)`),
      'TransportDatagramError',
    );
  }

  private handBack(reason: string): void {
    this.inactiveReason = reason;
    this.close();
    this.handle.recvStart();
  }
}
