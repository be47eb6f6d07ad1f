// The endpoint's own Initial check (header fields, then AEAD) against Initials quiche's client builds.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { initialDecrypts } from '../../transport/initial-protection.js';
import { LongHeader, PACKET_INITIAL, QUIC_V1 } from '../../transport/long-header.js';
import { quiche } from '../../transport/native.js';
import { applySettings, resolveTransportSettings } from '../../transport/settings.js';

function clientInitials(n: number): Buffer[] {
  const config = quiche.Config.withBoringSslCtx(false, false, null, null, null, null);
  applySettings(config, resolveTransportSettings(), 1350);
  const out = Buffer.alloc(65_535);
  const initials: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const q = quiche.Connection.connect(
      'localhost',
      randomBytes(8 + (i % 13)),
      { host: '127.0.0.1', port: 1000 + i },
      { host: '127.0.0.1', port: 4433 },
      config,
    );
    const r = q.send(out)!;
    initials.push(Buffer.from(out.subarray(0, r[0])));
  }
  return initials;
}

function parsed(msg: Buffer): LongHeader {
  const h = new LongHeader();
  expect(h.read(msg)).toBe(true);
  expect(h.readInitial(msg)).toBe(true);
  return h;
}

describe('Initial check', () => {
  const initials = clientInitials(20);

  it("reads a genuine client Initial's header and finds that it decrypts", () => {
    for (const msg of initials) {
      const h = parsed(msg);
      expect(h.version).toBe(QUIC_V1);
      expect(h.type).toBe(PACKET_INITIAL);
      expect(h.dcidLen).toBeGreaterThanOrEqual(8);
      expect(h.packetEnd).toBeLessThanOrEqual(msg.length);
      expect(initialDecrypts(msg, h)).toBe(true);
    }
  });

  it('rejects the same Initial with any one byte of its packet changed', () => {
    for (const [i, original] of initials.entries()) {
      const h = parsed(original);
      // Positions across the header (flags, DCID, SCID, packet number) and the protected payload.
      const positions = [0, 6, h.scidOffset, h.pnOffset, h.pnOffset + 1, h.pnOffset + 30, h.packetEnd - 1];
      for (const at of positions) {
        const msg = Buffer.from(original);
        msg[at] = msg[at]! ^ (1 << (i % 8));
        const changed = new LongHeader();
        if (!changed.read(msg) || !changed.readInitial(msg)) continue; // caught by the header checks
        expect(initialDecrypts(msg, changed), `byte ${at} changed`).toBe(false);
      }
    }
  });

  it('refuses header fields that run past the datagram', () => {
    const h = new LongHeader();
    const msg = initials[0]!;
    expect(h.read(msg.subarray(0, 6))).toBe(false);
    expect(h.read(msg.subarray(0, 6 + msg[5]!))).toBe(false); // no room for the SCID length
    const tooLong = Buffer.from(msg);
    tooLong[5] = 21;
    expect(h.read(tooLong)).toBe(false);
    const cut = msg.subarray(0, parsed(msg).pnOffset + 10);
    expect(h.read(cut)).toBe(true);
    expect(h.readInitial(cut)).toBe(false); // its Length runs past the end
  });
});
