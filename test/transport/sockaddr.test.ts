// The kernel's socket addresses the batched send and receive paths write and read: every address reads
// back as Node itself writes it (net.SocketAddress), so a peer known through either path compares equal.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SocketAddress } from 'node:net';
import { decodeSockaddr, encodeSockaddr } from '../../transport/sockaddr.js';

const nodeForm = (address: string, family: 'ipv4' | 'ipv6'): string =>
  new SocketAddress({ address, family }).address;

describe('sockaddr', () => {
  it('reads back IPv4 addresses and ports as written', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 65_535 }), (address, port) => {
        const name = encodeSockaddr(address, port)!;
        expect(name).toHaveLength(16);
        expect(decodeSockaddr(name, 0)).toEqual({ address: nodeForm(address, 'ipv4'), port });
      }),
    );
  });

  it("reads back any IPv6 address in Node's own text form (zero runs, mapped and compatible IPv4)", () => {
    // Words biased to zero, so runs of zeros, ties between runs and ::ffff: prefixes all occur.
    const word = fc.oneof(
      fc.constant(0),
      fc.constant(0),
      fc.constant(0xffff),
      fc.integer({ min: 0, max: 0xffff }),
    );
    fc.assert(
      fc.property(
        fc.array(word, { minLength: 8, maxLength: 8 }),
        fc.integer({ min: 0, max: 65_535 }),
        (words, port) => {
          const written = words.map((w) => w.toString(16)).join(':');
          const name = encodeSockaddr(written, port)!;
          expect(name).toHaveLength(28);
          expect(decodeSockaddr(name, 0)).toEqual({ address: nodeForm(written, 'ipv6'), port });
        },
      ),
      { numRuns: 2000 },
    );
    for (const text of [
      '::',
      '::1',
      '::ffff:127.0.0.1',
      '::1.2.3.4',
      '2001:db8::1',
      'fe80::',
      '1::2:0:0:3:4',
    ]) {
      expect(decodeSockaddr(encodeSockaddr(text, 1)!, 0).address).toBe(nodeForm(text, 'ipv6'));
    }
  });

  it('has no socket address for a host name or a zoned IPv6 address', () => {
    expect(encodeSockaddr('localhost', 1)).toBeNull();
    expect(encodeSockaddr('fe80::1%eth0', 1)).toBeNull();
  });
});
