/**
 * The address a datagram was sent to, on a socket bound to every address (0.0.0.0 or [::]), and the same
 * address as the source of the answers. Without it the kernel picks an answer's source by its route to the
 * peer, and a client that dialled another of the host's addresses — a second address on one interface, a
 * virtual IP, 127.0.0.2 — drops answers from the wrong one (a connected UDP socket accepts only its peer's),
 * so its handshake times out. Linux reports the destination in an IP_PKTINFO / IPV6_PKTINFO control message
 * on receive, and takes the source from the same message on send (as quinn and nginx's QUIC do).
 *
 * The control messages' layout (LP64): struct cmsghdr { size_t len; int level; int type; } then the data;
 * in_pktinfo { int ifindex; in_addr spec_dst; in_addr addr; }, in6_pktinfo { in6_addr addr; int ifindex; }.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { Libc } from './libc.js';
import { readIpv4, readIpv6, writeIpv4, writeIpv6 } from './sockaddr.js';

const IPPROTO_IP = 0;
const IP_PKTINFO = 8;
const IPPROTO_IPV6 = 41;
const IPV6_RECVPKTINFO = 49;
const IPV6_PKTINFO = 50;
const CMSG_HEADER = 16;
const IN_PKTINFO_BYTES = 12;
const IN6_PKTINFO_BYTES = 20;

/** Control buffer bytes a received datagram needs for its destination (the larger message, aligned). */
export const LOCAL_ADDRESS_CONTROL_BYTES = 48;
/** Bytes writePktinfo may write: one control message with its padding. */
export const PKTINFO_SPACE = 40;

/** Whether `host` (a bind address) is every address of its family. */
export function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]';
}

/**
 * Asks the kernel to report each datagram's destination on `fd` (IPv6 sockets report IPv4 ones as
 * v4-mapped); the reason when it refuses, else null.
 */
export function reportLocalAddresses(lib: Libc, fd: number, ipv6: boolean): string | null {
  const failed = ipv6
    ? lib.setIntOption(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1) < 0
    : lib.setIntOption(fd, IPPROTO_IP, IP_PKTINFO, 1) < 0;
  return failed
    ? `setsockopt(${ipv6 ? 'IPV6_RECVPKTINFO' : 'IP_PKTINFO'}) failed (errno ${lib.errno()})`
    : null;
}

/** The destination address in the control messages at control[at, at + length), or null when none says. */
export function readLocalAddress(control: Buffer, at: number, length: number): string | null {
  const end = at + length;
  let offset = at;
  while (offset + CMSG_HEADER <= end) {
    const cmsgLength = control.readUInt32LE(offset); // size_t; no control message is 4 GiB
    if (cmsgLength < CMSG_HEADER || offset + cmsgLength > end) return null;
    const level = control.readInt32LE(offset + 8);
    const type = control.readInt32LE(offset + 12);
    const data = offset + CMSG_HEADER;
    if (level === IPPROTO_IP && type === IP_PKTINFO && cmsgLength >= CMSG_HEADER + IN_PKTINFO_BYTES)
      return readIpv4(control, data + 8); // ipi_addr: the header's destination
    if (level === IPPROTO_IPV6 && type === IPV6_PKTINFO && cmsgLength >= CMSG_HEADER + IN6_PKTINFO_BYTES)
      return readIpv6(control, data);
    offset += (cmsgLength + 7) & ~7;
  }
  return null;
}

/**
 * Writes at `out[at]` the control message that makes a send leave from `local` (as readLocalAddress gave
 * it); returns the bytes it takes (its CMSG_SPACE), or 0 when `local` is not an address.
 */
export function writePktinfo(out: Buffer, at: number, local: string): number {
  out.fill(0, at, at + PKTINFO_SPACE);
  if (isIPv4(local)) {
    out.writeUInt32LE(CMSG_HEADER + IN_PKTINFO_BYTES, at);
    out.writeInt32LE(IPPROTO_IP, at + 8);
    out.writeInt32LE(IP_PKTINFO, at + 12);
    writeIpv4(local, out, at + CMSG_HEADER + 4); // ipi_spec_dst: the source to use
    return 32;
  }
  if (isIPv6(local) && !local.includes('%')) {
    out.writeUInt32LE(CMSG_HEADER + IN6_PKTINFO_BYTES, at);
    out.writeInt32LE(IPPROTO_IPV6, at + 8);
    out.writeInt32LE(IPV6_PKTINFO, at + 12);
    writeIpv6(local, out, at + CMSG_HEADER);
    return 40;
  }
  return 0;
}
