import { isIP } from 'node:net';

// Linux's struct sockaddr_in (16 bytes) and sockaddr_in6 (28 bytes), for the sends Node cannot make.
const AF_INET = 2;
const AF_INET6 = 10;

/**
 * The kernel's socket address for `host` (a numeric IPv4 or IPv6 address, as Node reports peers) and
 * `port`, or null for what it cannot express without a lookup (a host name, an IPv6 zone such as %eth0).
 */
export function encodeSockaddr(host: string, port: number): Buffer | null {
  const family = isIP(host);
  if (family === 4) {
    const out = Buffer.alloc(16);
    out.writeUInt16LE(AF_INET, 0);
    out.writeUInt16BE(port, 2);
    writeIpv4(host, out, 4);
    return out;
  }
  if (family !== 6 || host.includes('%')) return null;
  const out = Buffer.alloc(28);
  out.writeUInt16LE(AF_INET6, 0);
  out.writeUInt16BE(port, 2);
  writeIpv6(host, out, 8);
  return out;
}

export function writeIpv4(address: string, out: Buffer, at: number): void {
  const parts = address.split('.');
  for (let i = 0; i < 4; i++) out[at + i] = Number(parts[i]);
}

/** Writes an address isIP() accepted as IPv6: groups around at most one '::', maybe an IPv4 tail. */
export function writeIpv6(address: string, out: Buffer, at: number): void {
  const groups = (text: string): number[] => {
    if (text === '') return [];
    const words: number[] = [];
    for (const part of text.split(':')) {
      if (part.includes('.')) {
        const v4 = Buffer.alloc(4);
        writeIpv4(part, v4, 0);
        words.push(v4.readUInt16BE(0), v4.readUInt16BE(2));
      } else {
        words.push(parseInt(part, 16));
      }
    }
    return words;
  };
  const gap = address.indexOf('::');
  const head = groups(gap < 0 ? address : address.slice(0, gap));
  const tail = gap < 0 ? [] : groups(address.slice(gap + 2));
  const words = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  for (let i = 0; i < 8; i++) out.writeUInt16BE(words[i] ?? 0, at + 2 * i);
}

/** Where a datagram came from, as Node's dgram reports it (address text, port). */
export interface DatagramSource {
  readonly address: string;
  readonly port: number;
  /**
   * The address it was sent to, on a socket bound to every address that reports it (IP_PKTINFO): the
   * source answers to it must carry. Absent where unknown (Node's own reads, a socket bound to one address).
   */
  readonly local?: string | null;
}

/**
 * Reads the sockaddr_in or sockaddr_in6 at `at` as Node's dgram would report it: dotted IPv4, or IPv6 as
 * inet_ntop writes it (lowercase, the longest run of two or more zero groups as '::', IPv4-mapped and
 * IPv4-compatible addresses with a dotted tail), so addresses read here and by Node compare equal.
 */
export function decodeSockaddr(buf: Buffer, at: number): DatagramSource {
  const family = buf.readUInt16LE(at);
  const port = buf.readUInt16BE(at + 2);
  if (family === AF_INET) return { address: readIpv4(buf, at + 4), port };
  if (family === AF_INET6) return { address: readIpv6(buf, at + 8), port };
  return { address: '', port };
}

export function readIpv4(buf: Buffer, at: number): string {
  return `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`;
}

export function readIpv6(buf: Buffer, at: number): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push(buf.readUInt16BE(at + 2 * i));
  // The longest run of zero words (the first of equal runs), compressed only when two or more long.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) bestStart = -1;
  // glibc's rule for a dotted tail: ::a.b.c.d (first six words zero) and ::ffff:a.b.c.d.
  const dottedTail = bestStart === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff));
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += i === 0 ? '::' : ':';
      i += bestLen - 1;
      continue;
    }
    if (dottedTail && i === 6) {
      out += readIpv4(buf, at + 12);
      break;
    }
    out += words[i]!.toString(16);
    if (i < 7) out += ':';
  }
  return out;
}
