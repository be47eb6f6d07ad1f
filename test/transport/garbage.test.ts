// Datagrams that match no connection, over real UDP on loopback against a real endpoint: each class is
// dropped for its own reason before a connection exists (the endpoint's counters say which check caught
// it), nothing is left behind, and the live connection keeps working.
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Connection, DropReason, Endpoint } from '../../transport/index.js';
import { collect, echoStreams, startClient, startServer, until } from './harness.js';

const sockets: dgram.Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

async function attacker(port: number): Promise<{ send(b: Buffer): Promise<void>; replies: Buffer[] }> {
  const socket = dgram.createSocket('udp4');
  sockets.push(socket);
  await new Promise<void>((r) => socket.connect(port, '127.0.0.1', () => r()));
  const replies: Buffer[] = [];
  socket.on('message', (m) => replies.push(m));
  return { send: (b) => new Promise((r) => socket.send(b, () => r())), replies };
}

/** A long header with the given version, type bits, DCID and SCID lengths; the rest is noise. */
function longHeader(size: number, opts: { version?: number; type?: number; dcidLen?: number } = {}): Buffer {
  const dcidLen = opts.dcidLen ?? 8;
  const b = randomBytes(size);
  b[0] = 0xc0 | ((opts.type ?? 0) << 4) | (b[0]! & 0x0f);
  b.writeUInt32BE(opts.version ?? 1, 1);
  b[5] = dcidLen;
  b[6 + dcidLen] = 8; // SCID length
  return b;
}

/** An Initial no check without keys can fault: empty token, Length = the rest of the datagram. */
function forgedInitial(size: number, dcidLen = 8): Buffer {
  const b = longHeader(size, { dcidLen });
  const o = 6 + dcidLen + 1 + 8;
  b[o] = 0; // token length
  b.writeUInt16BE(0x4000 | (size - o - 3), o + 1);
  return b;
}

function forgedShortHeader(size: number): Buffer {
  const b = randomBytes(size);
  b[0] = 0x40 | (b[0]! & 0x3f);
  return b;
}

async function echoOnce(conn: Connection, text: string): Promise<string> {
  const s = conn.openStream();
  const reply = collect(s);
  s.end(Buffer.from(text));
  return (await reply).toString();
}

function dropped(endpoint: Endpoint): Record<DropReason, number> {
  return { ...endpoint.datagramStats().dropped };
}

describe('datagrams that match no connection', () => {
  it('drops each class of garbage for its own reason, creates nothing, and keeps serving', async () => {
    // Without Retry, so that every forged Initial meets the AEAD check (address-validation.test.ts covers
    // forged Initials answered by Retry, which come before that check).
    const server = await startServer(echoStreams, {}, { retry: 'never' });
    const conn = await (await startClient(server.port)).connect();
    expect(await echoOnce(conn, 'before')).toBe('before');
    const flood = await attacker(server.port);
    const before = dropped(server.endpoint);

    const sent: Partial<Record<DropReason, number>> = {};
    const send = async (reason: DropReason, make: (i: number) => Buffer, n: number): Promise<void> => {
      for (let i = 0; i < n; i++) await flood.send(make(i));
      sent[reason] = (sent[reason] ?? 0) + n;
    };
    // Pass every header check, fail decryption.
    await send('undecryptable', (i) => forgedInitial(1200 + (i % 150), 8 + (i % 13)), 200);
    // Initials cut below 1200 bytes (after their CIDs), or naming a DCID shorter than a client may choose.
    await send('small_initial', (i) => forgedInitial(1200).subarray(0, 30 + (i % 1170)), 200);
    await send('small_initial', () => forgedInitial(1200, 4), 20);
    await send('unknown_connection', (i) => forgedShortHeader(40 + (i % 1300)), 200);
    // Handshake (type 2) and 0-RTT (type 1) packets for connections that do not exist.
    await send('not_initial', (i) => longHeader(1200, { type: 1 + (i % 2) }), 40);
    // A DCID length over 20, a header cut inside the DCID, an Initial whose Length runs past the end.
    await send('malformed', () => longHeader(1200, { dcidLen: 21 }), 20);
    await send('malformed', (i) => longHeader(30).subarray(0, 1 + (i % 10)), 20);
    await send(
      'malformed',
      () => {
        const b = forgedInitial(1200);
        b.writeUInt16BE(0x4000 | 2000, 6 + 8 + 1 + 8 + 1);
        return b;
      },
      20,
    );

    // The counters that moved, and by how much.
    const caught = (): Record<string, number> => {
      const now = dropped(server.endpoint);
      const moved = Object.keys(now).map((r) => [r, now[r as DropReason] - before[r as DropReason]] as const);
      return Object.fromEntries(moved.filter(([, n]) => n !== 0));
    };
    // Waits for every datagram to be counted somewhere; the assertion below says where.
    const total = Object.values(sent).reduce((a, b) => a + b, 0);
    await until(
      () => Object.values(caught()).reduce((a, b) => a + b, 0) >= total,
      'every garbage datagram to be counted',
    );
    expect(caught()).toEqual(sent);
    // The only answers: stateless resets to the short-header datagrams (a server cannot tell a forged one
    // from a packet of a connection it forgot), each shorter than what it answers, so no loop and no gain.
    const resets = server.endpoint.datagramStats().statelessResetsSent;
    expect(resets).toBe(sent.unknown_connection);
    // The server counts a reset when it sends it; the last ones may still be on their way to the flooder.
    await until(() => flood.replies.length >= resets, 'the stateless resets to arrive');
    expect(flood.replies).toHaveLength(resets);
    for (const r of flood.replies) {
      expect(r[0]! & 0xc0).toBe(0x40);
      expect(r.length).toBeGreaterThanOrEqual(21);
      expect(r.length).toBeLessThanOrEqual(43);
    }
    expect(server.endpoint.connections).toHaveLength(1);
    expect(server.endpoint.datagramStats().handshakesRefused).toBe(0);
    expect(await echoOnce(conn, 'after')).toBe('after');
    // A new client still gets in: the checks let genuine Initials through.
    const late = await (await startClient(server.port)).connect();
    expect(await echoOnce(late, 'late')).toBe('late');
  });

  it('answers an unknown version with Version Negotiation only for datagrams of at least 1200 bytes', async () => {
    const server = await startServer(echoStreams);
    const flood = await attacker(server.port);
    for (let i = 0; i < 20; i++) await flood.send(longHeader(100 + i * 50, { version: 0x1a2a3a4a }));
    // Version 0 is itself a Version Negotiation packet: never answered, whatever its size.
    for (let i = 0; i < 5; i++) await flood.send(longHeader(1200, { version: 0 }));
    await flood.send(longHeader(1200, { version: 0x1a2a3a4a }));
    await until(() => flood.replies.length === 1, 'a version negotiation reply');
    await until(() => server.endpoint.datagramStats().dropped.unsupported_version === 26, 'all counted');
    const vn = flood.replies[0]!;
    expect(vn[0]! & 0x80).toBe(0x80);
    expect(vn.readUInt32BE(1)).toBe(0);
    expect(server.endpoint.datagramStats().versionNegotiations).toBe(1);
    expect(server.endpoint.connections).toHaveLength(0);
  });
});
