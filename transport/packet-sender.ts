import type dgram from 'node:dgram';
import type { HostPort, QuicheConnection } from './native.js';
import type { DatagramSource } from './sockaddr.js';
import { MAX_UDP_PACKET, type UdpBatchingMode } from './settings.js';
import {
  GSO_MAX_BYTES,
  GSO_MAX_SEGMENT_BYTES,
  GSO_MAX_SEGMENTS,
  SegmentedSender,
  type SegmentedSendStats,
} from './udp-gso.js';

// Packets are built into one ring and handed to the socket as views of it: no buffer per datagram.
const SEND_RING_BYTES = 8 << 20;

/**
 * An endpoint's send path: takes every packet quiche has ready for a connection and puts it on the socket.
 * Packets are written back to back into one reused ring; with segmentation offload, runs of one size
 * (the last may be shorter) leave in one sendmsg each, from the address the connection's client dialled
 * when the socket is bound to every address; otherwise, and once libuv queues a send (its order is kept),
 * each packet goes through Node's socket (from the routed address).
 */
export class PacketSender {
  private ring = Buffer.allocUnsafe(SEND_RING_BYTES);
  private ringOffset = 0;
  /** Segmentation offload on this socket, or null (with the reason in gsoUnavailable). */
  private readonly gso: SegmentedSender | null;
  private readonly gsoUnavailable: string | null;
  /** The ring's memory address, for offloaded sends. */
  private ringAddress = 0;
  /** Where reply() copies a packet to leave through sendmsg, and its address. */
  private readonly replyScratch = Buffer.allocUnsafeSlow(MAX_UDP_PACKET);
  private replyScratchAddress = 0;
  /** The run being gathered: packets at ring[start, start + bytes), `count` of them, `segment` bytes each. */
  private readonly run = {
    start: 0,
    bytes: 0,
    segment: 0,
    count: 0,
    offload: false,
    /** The source address the drain's datagrams must leave from, or null: the routed one. */
    from: null as string | null,
  };

  constructor(
    private readonly socket: dgram.Socket,
    mode: UdpBatchingMode,
    /** A send found an ICMP port unreachable pending on the socket (see SegmentedSender). */
    onUnreachable: () => void,
  ) {
    const gso = SegmentedSender.open(socket, mode, onUnreachable);
    this.gso = typeof gso === 'string' ? null : gso;
    this.gsoUnavailable = typeof gso === 'string' ? gso : null;
    if (this.gso !== null) {
      this.ringAddress = this.gso.addressOf(this.ring);
      this.replyScratchAddress = this.gso.addressOf(this.replyScratch);
    }
  }

  /** Whether datagrams leave through segmentation offload, and how many did. */
  stats(): SegmentedSendStats {
    if (this.gso !== null) return this.gso.stats();
    return { active: false, segmentedSends: 0, segmentedDatagrams: 0, inactiveReason: this.gsoUnavailable };
  }

  /**
   * Sends every packet quiche has ready for `q` (to `to`, or the connected peer; from `from`, or the routed
   * source); returns whether any.
   */
  drain(q: QuicheConnection, to: HostPort | null, from: string | null = null): boolean {
    const socket = this.socket;
    const run = this.run;
    run.count = 0;
    run.offload = this.gso !== null && this.gso.active && socket.getSendQueueCount() === 0;
    run.from = from;
    let sent = false;
    // quiche returns null once nothing is ready (congestion window, nothing queued): the loop ends.
    for (;;) {
      if (this.ringOffset + MAX_UDP_PACKET > this.ring.length) {
        // A run must be contiguous: it leaves before the ring wraps.
        this.sendRun(to);
        // libuv may still hold unsent views of the ring (EAGAIN): only reuse it once its queue is empty.
        if (socket.getSendQueueCount() !== 0) {
          this.ring = Buffer.allocUnsafe(SEND_RING_BYTES);
          if (this.gso !== null) this.ringAddress = this.gso.addressOf(this.ring);
        }
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
      this.ringOffset = offset + n;
      sent = true;
      if (run.offload) this.addToRun(offset, n, to);
      else this.sendOne(offset, n, to);
    }
    this.sendRun(to);
    if (socket.getSendQueueCount() === 0) this.ringOffset = 0;
    return sent;
  }

  /** Adds the packet at `offset` to the run, sending the run first or after when it cannot grow. */
  private addToRun(offset: number, n: number, to: HostPort | null): void {
    const run = this.run;
    if (run.count > 0 && (n > run.segment || run.count === GSO_MAX_SEGMENTS || run.bytes + n > GSO_MAX_BYTES))
      this.sendRun(to);
    if (run.count === 0) {
      run.start = offset;
      run.segment = n;
      run.bytes = 0;
    }
    run.bytes += n;
    run.count++;
    // Only a run's last datagram may be shorter than its segment size; one too large to gain from
    // segmentation leaves alone, still in one direct sendmsg.
    if (n < run.segment || n > GSO_MAX_SEGMENT_BYTES) this.sendRun(to);
  }

  /**
   * One offloaded sendmsg for the run; what the kernel does not take goes through Node, and so does the
   * rest of the drain.
   */
  private sendRun(to: HostPort | null): void {
    const run = this.run;
    if (run.count === 0) return;
    run.count = 0;
    if (run.offload && this.gso!.send(this.ringAddress, run.start, run.bytes, run.segment, to, run.from))
      return;
    // A full send buffer (libuv now queues, and later packets must follow in order) or a refused send.
    run.offload = false;
    const end = run.start + run.bytes;
    for (let offset = run.start; offset < end; offset += run.segment)
      this.sendOne(offset, Math.min(run.segment, end - offset), to);
  }

  /**
   * Sends the first `length` bytes of `packet` to the datagram's sender, from the address it was sent to
   * when the socket reported it (answers to packets of no connection: Retry, refusals, resets).
   */
  reply(packet: Buffer, length: number, to: DatagramSource): void {
    const from = to.local ?? null;
    if (
      from !== null &&
      length <= this.replyScratch.length &&
      this.gso !== null &&
      this.gso.active &&
      this.socket.getSendQueueCount() === 0
    ) {
      // Copied into memory of its own: a small Buffer may live on V8's heap, which moves.
      packet.copy(this.replyScratch, 0, 0, length);
      const peer = { host: to.address, port: to.port };
      if (this.gso.send(this.replyScratchAddress, 0, length, 0, peer, from)) return;
    }
    this.socket.send(packet, 0, length, to.port, to.address);
  }

  private sendOne(offset: number, n: number, to: HostPort | null): void {
    if (to === null) this.socket.send(this.ring, offset, n);
    else this.socket.send(this.ring, offset, n, to.port, to.host);
  }
}
