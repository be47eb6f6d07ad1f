import type dgram from 'node:dgram';
import { EAGAIN, ECONNREFUSED, EINTR, loadLibc, socketHandle, writeAddress, type Libc } from './libc.js';
import { encodeSockaddr } from './sockaddr.js';
import { PKTINFO_SPACE, writePktinfo } from './local-address.js';
import type { HostPort } from './native.js';
import type { UdpBatchingMode } from './settings.js';

/**
 * UDP generic segmentation offload (Linux's UDP_SEGMENT, 4.18+) for an endpoint's socket: a run of
 * equal-sized QUIC packets to one peer leaves in one sendmsg, which the kernel cuts into datagrams of
 * that size after routing and checksumming the whole once. Node's dgram has no such call, so it is made
 * through koffi (an FFI with prebuilt binaries in its npm package) on the socket's own descriptor; Node
 * keeps sending whatever this path hands back (a full send buffer, an error), so behaviour without offload
 * is exactly Node's.
 */

/** How many datagrams one sendmsg may carry (the kernel's UDP_MAX_SEGMENTS is 64 before 6.9, 128 after). */
export const GSO_MAX_SEGMENTS = 64;
/** Payload bytes one sendmsg may carry: an IPv4 datagram's 65,535 less its IP and UDP headers, with room. */
export const GSO_MAX_BYTES = 65_000;
/**
 * Datagrams above this size leave one per sendmsg, unsegmented. Loopback's 16 KB datagrams gain nothing from
 * segmentation (three per call at most, and the kernel copies each segment again where the device does not
 * segment): measured f1 b64 256 B at 0.90× the rate with it. Network-sized ones (1,350 B, ~48 per call) gain.
 */
export const GSO_MAX_SEGMENT_BYTES = 9000;

/** What an endpoint's sends did: how many left through offload, for metrics and tests. */
export interface SegmentedSendStats {
  /** Offload in use on this endpoint (false when off, unavailable, or switched off by a refused send). */
  readonly active: boolean;
  /** sendmsg calls that carried more than one datagram. */
  readonly segmentedSends: number;
  /** Datagrams those calls carried. */
  readonly segmentedDatagrams: number;
  /** Why offload is not in use, when it is not. */
  readonly inactiveReason: string | null;
}

const SOL_UDP = 17;
const UDP_SEGMENT = 103;

// One header block: struct msghdr, one iovec, the control messages (a cmsghdr carrying a u16 segment
// size, then an IP_PKTINFO or IPV6_PKTINFO one for the source address), a sockaddr_in6.
const MSG = 0;
const IOV = 64;
const CMSG = 80;
const CMSG_LEN = 18; // CMSG_LEN(sizeof(uint16_t)) on LP64
const CMSG_SPACE = 24;
const PKTINFO = CMSG + CMSG_SPACE;
const NAME = PKTINFO + PKTINFO_SPACE;
const HEADER_BYTES = 256; // above V8's on-heap typed-array size: the block never moves

export class SegmentedSender {
  private readonly header = Buffer.alloc(HEADER_BYTES);
  private readonly headerAddress: number;
  /** Peers' addresses encoded once (a server's connections keep their HostPort object). */
  private readonly names = new WeakMap<HostPort, Buffer | null>();
  private lastName: HostPort | null = null;
  /** The source address written at PKTINFO, and its control message's size (0: none written). */
  private lastFrom: string | null = null;
  private fromBytes = 0;
  private segmentedSends = 0;
  private segmentedDatagrams = 0;
  private inactiveReason: string | null = null;

  private constructor(
    private readonly lib: Libc,
    private readonly fd: number,
    private readonly onUnreachable: () => void,
  ) {
    this.headerAddress = lib.address(this.header);
    const h = this.header;
    writeAddress(h, MSG + 16, this.headerAddress + IOV); // msg_iov
    h.writeUInt32LE(1, MSG + 24); // msg_iovlen
    h.writeUInt32LE(CMSG_LEN, CMSG);
    h.writeInt32LE(SOL_UDP, CMSG + 8);
    h.writeInt32LE(UDP_SEGMENT, CMSG + 12);
  }

  /**
   * Offload for `socket` (bound or connected), or the reason there is none: off by setting, not Linux
   * x64, koffi missing, or no descriptor. The kernel's own support shows at the first segmented send.
   */
  static open(
    socket: dgram.Socket,
    mode: UdpBatchingMode,
    onUnreachable: () => void = () => undefined,
  ): SegmentedSender | string {
    if (mode === 'off') return 'off by setting (FELIX_UDP_GSO=off)';
    const lib = loadLibc();
    if (typeof lib === 'string') return `segmentation offload unavailable: ${lib}`;
    const { fd } = socketHandle(socket);
    if (fd < 0) return 'the socket has no descriptor Node exposes';
    return new SegmentedSender(lib, fd, onUnreachable);
  }

  get active(): boolean {
    return this.inactiveReason === null;
  }

  stats(): SegmentedSendStats {
    return {
      active: this.active,
      segmentedSends: this.segmentedSends,
      segmentedDatagrams: this.segmentedDatagrams,
      inactiveReason: this.inactiveReason,
    };
  }

  /**
   * Sends `bytes` of `buf` (whose memory starts at `bufAddress`) from `offset` as datagrams of `segment`
   * bytes each, the last possibly shorter (`segment` 0 or ≥ bytes: one datagram), to `to` (null: the
   * connected peer). False when nothing left: the send buffer is full, or the kernel refused the send (a
   * refused segmented send switches offload off for good); the caller then sends through Node.
   */
  send(
    bufAddress: number,
    offset: number,
    bytes: number,
    segment: number,
    to: HostPort | null,
    from: string | null = null,
  ): boolean {
    const h = this.header;
    const segmented = segment > 0 && segment < bytes;
    if (from !== this.lastFrom) {
      this.fromBytes = from === null ? 0 : writePktinfo(h, PKTINFO, from);
      this.lastFrom = from;
    }
    if (to === null) {
      h.writeUInt32LE(0, MSG);
      h.writeUInt32LE(0, MSG + 4);
      h.writeUInt32LE(0, MSG + 8);
      this.lastName = null;
    } else if (!this.setName(to)) {
      return false;
    }
    writeAddress(h, IOV, bufAddress + offset);
    h.writeUInt32LE(bytes, IOV + 8);
    // The control messages are contiguous: the segment size (when segmented) right before the source.
    const controlBytes = (segmented ? CMSG_SPACE : 0) + this.fromBytes;
    if (controlBytes > 0) {
      writeAddress(h, MSG + 32, this.headerAddress + (segmented ? CMSG : PKTINFO));
      h.writeUInt32LE(controlBytes, MSG + 40);
      if (segmented) h.writeUInt16LE(segment, CMSG + 16);
    } else {
      h.writeUInt32LE(0, MSG + 32);
      h.writeUInt32LE(0, MSG + 36);
      h.writeUInt32LE(0, MSG + 40);
    }
    let sent = this.lib.sendmsg(this.fd, this.headerAddress + MSG, 0);
    if (sent < 0 && this.lib.errno() === EINTR) sent = this.lib.sendmsg(this.fd, this.headerAddress + MSG, 0);
    if (sent >= 0) {
      if (segmented) {
        this.segmentedSends++;
        this.segmentedDatagrams += Math.ceil(bytes / segment);
      }
      return true;
    }
    const errno = this.lib.errno();
    if (errno === EAGAIN) return false;
    // An ICMP port unreachable pending on a connected socket is reported by whichever call comes first:
    // this send took it, so the endpoint hears it here (the datagram then goes through Node, as any refused one).
    if (errno === ECONNREFUSED) this.onUnreachable();
    // EIO (a device without checksum offload), EINVAL, EOPNOTSUPP: this path cannot segment. A single
    // datagram's error (ECONNREFUSED from an ICMP, EMSGSIZE) is the packet's, as it would be through Node.
    if (segmented) this.inactiveReason = `the kernel refused a segmented send (errno ${errno})`;
    return false;
  }

  /** The address of the buffer's first byte, for send(); stable for a Buffer of its own ArrayBuffer. */
  addressOf(buf: Buffer): number {
    return this.lib.address(buf);
  }

  private setName(to: HostPort): boolean {
    if (to === this.lastName) return true;
    let name = this.names.get(to);
    if (name === undefined) {
      name = encodeSockaddr(to.host, to.port);
      this.names.set(to, name);
    }
    if (name === null) return false;
    name.copy(this.header, NAME);
    writeAddress(this.header, MSG, this.headerAddress + NAME);
    this.header.writeUInt32LE(name.length, MSG + 8);
    this.lastName = to;
    return true;
  }
}
