import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ConnectionClosedError,
  Endpoint,
  TlsPolicyError,
  TransportSettingsError,
  generateSelfSignedCertificate,
  resolveClientTlsPolicy,
  resolveTransportSettings,
  type CloseInfo,
  type Connection,
} from '../../transport/index.js';
import { collect, echoStreams, serverCert, startClient, startServer, until } from './harness.js';

function closed(c: Connection): Promise<CloseInfo> {
  return new Promise((resolve) => (c.onClose = resolve));
}

async function echoOnce(conn: Connection, text: string): Promise<string> {
  const s = conn.openStream();
  const reply = collect(s);
  s.end(Buffer.from(text));
  return (await reply).toString();
}

describe('connection lifecycle', () => {
  it('delivers the close code and reason to the peer', async () => {
    const server = await startServer();
    const conn = await (await startClient(server.port)).connect();
    const accepted = await server.nextConnection();
    const peerSaw = closed(accepted);
    const weSaw = closed(conn);
    conn.close(4001, 'shutting down for maintenance');
    const info = await peerSaw;
    expect(info).toMatchObject({
      code: 4001,
      reason: 'shutting down for maintenance',
      isApp: true,
      byPeer: true,
    });
    expect(await weSaw).toMatchObject({ code: 4001, isApp: true, byPeer: false });
    expect(() => conn.openStream()).toThrow(ConnectionClosedError);
  });

  it('closes an idle connection on both sides after the idle timeout', async () => {
    const server = await startServer(() => undefined, { idleTimeoutMs: 300, keepAliveMs: 0 });
    const conn = await (await startClient(server.port, { idleTimeoutMs: 300, keepAliveMs: 0 })).connect();
    const accepted = await server.nextConnection();
    const [client, srv] = await Promise.all([closed(conn), closed(accepted)]);
    expect(client.timedOut).toBe(true);
    expect(srv.timedOut).toBe(true);
  });

  it('keeps a quiet connection alive past the idle timeout with keep-alives', async () => {
    const server = await startServer(echoStreams, { idleTimeoutMs: 300, keepAliveMs: 0 });
    const conn = await (await startClient(server.port, { idleTimeoutMs: 300, keepAliveMs: 100 })).connect();
    let closedEarly = false;
    conn.onClose = () => (closedEarly = true);
    // Four idle timeouts of silence from the application.
    await new Promise((r) => setTimeout(r, 1200));
    expect(closedEarly).toBe(false);
    expect(await echoOnce(conn, 'still alive')).toBe('still alive');
  });

  it('bounds a connect to a silent address and abandons the attempt', async () => {
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
    const client = await startClient(silent.address().port);
    const err = await client.connect({ timeoutMs: 200 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'connect_timeout' });
    await until(() => client.connections.length === 0, 'the abandoned attempt to be forgotten');
    silent.close();
  });

  it('closing an endpoint closes its connections and tells their peers', async () => {
    const server = await startServer();
    const client = await startClient(server.port);
    const conns = await Promise.all([client.connect(), client.connect(), client.connect()]);
    // The server completes its side of the handshake one flight after the client does; an application
    // close before that travels as a transport-level APPLICATION_ERROR without code or reason (RFC 9000 §10.2.3).
    await until(() => server.connections.length === 3, 'three established server connections');
    const seen = conns.map(closed);
    await server.endpoint.close({ code: 7, reason: 'broker stopping' });
    for (const info of await Promise.all(seen)) {
      expect(info).toMatchObject({ code: 7, reason: 'broker stopping', byPeer: true });
    }
    expect(server.endpoint.connections.length).toBe(0);
  });
});

describe('robustness against hostile datagrams', () => {
  it('drops a flood of garbage, truncated, forged and wrong-version datagrams; the connection keeps working', async () => {
    const server = await startServer(echoStreams);
    const conn = await (await startClient(server.port)).connect();
    expect(await echoOnce(conn, 'before')).toBe('before');
    const serverConn = server.connections[0]!;

    // Capture real packets from the client to replay truncated and mutated versions of them.
    const attacker = dgram.createSocket('udp4');
    await new Promise<void>((r) => attacker.bind(0, '127.0.0.1', () => r()));
    const send = (b: Buffer): Promise<void> =>
      new Promise((r) => attacker.send(b, server.port, '127.0.0.1', () => r()));
    const versionReplies: Buffer[] = [];
    attacker.on('message', (m) => versionReplies.push(m));

    const rng = randomBytes(1 << 20);
    let cursor = 0;
    const take = (n: number): Buffer => {
      if (cursor + n > rng.length) cursor = 0;
      const b = Buffer.from(rng.subarray(cursor, cursor + n));
      cursor += n;
      return b;
    };
    for (let i = 0; i < 3000; i++) {
      const kind = i % 6;
      let pkt: Buffer;
      if (kind === 0)
        pkt = take(1 + (i % 1400)); // pure noise of every size
      else if (kind === 1) {
        pkt = take(60); // short header aimed at a live routing slot with a wrong CID
        pkt[0] = 0x40;
        pkt.writeUInt32BE(serverConn.slot, 1);
      } else if (kind === 2) {
        pkt = take(1200 + (i % 100)); // long-header "Initial" of garbage, big enough to pass the size check
        pkt[0] = 0xc0;
        pkt.writeUInt32BE(1, 1);
        pkt[5] = 8;
        pkt[14] = 8;
      } else if (kind === 3) {
        pkt = take(40); // Initial below the 1200-byte minimum
        pkt[0] = 0xc0;
        pkt.writeUInt32BE(1, 1);
        pkt[5] = 8;
      } else if (kind === 4) {
        pkt = take(3 + (i % 20)); // truncated headers
        pkt[0] = 0xc0 | (i & 0x3f);
      } else {
        pkt = take(1200); // unknown version: must be answered with version negotiation, not a connection
        pkt[0] = 0xc0;
        pkt.writeUInt32BE(0x1a2a3a4a, 1);
        pkt[5] = 8;
        pkt[14] = 8;
      }
      await send(pkt);
    }
    expect(await echoOnce(conn, 'after')).toBe('after');
    expect(server.endpoint.connections.length).toBe(1);
    // Short-header garbage is answered with stateless resets (short headers); the one long-header
    // answer is Version Negotiation.
    await until(() => versionReplies.some((r) => (r[0]! & 0x80) !== 0), 'a version negotiation reply');
    const vn = versionReplies.find((r) => (r[0]! & 0x80) !== 0)!;
    expect(vn[0]! & 0x80).toBe(0x80);
    expect(vn.readUInt32BE(1)).toBe(0); // version 0 marks a version negotiation packet
    attacker.close();
  });

  it('ignores packets for a connection that already closed', async () => {
    const server = await startServer(echoStreams);
    const client = await startClient(server.port);
    const doomed = await client.connect();
    const survivor = await client.connect();
    await until(() => server.connections.length === 2, 'two connections');
    const doomedServerSide = server.connections[0]!;
    const gone = closed(doomedServerSide);
    doomed.close(0, 'bye');
    await gone;
    // A short-header packet still naming the closed connection's slot.
    const sock = dgram.createSocket('udp4');
    const pkt = randomBytes(100);
    pkt[0] = 0x40;
    pkt.writeUInt32BE(doomedServerSide.slot, 1);
    await new Promise<void>((r) => sock.send(pkt, server.port, '127.0.0.1', () => r()));
    sock.close();
    expect(await echoOnce(survivor, 'still here')).toBe('still here');
  });
});

describe('TLS', () => {
  it('verifies the server against the right CA', async () => {
    const server = await startServer(echoStreams);
    const cert = await serverCert();
    const client = await startClient(server.port, {}, { caPem: cert.certPem });
    const conn = await client.connect();
    expect(await echoOnce(conn, 'verified')).toBe('verified');
  });

  it('refuses a server whose certificate the CA did not sign', async () => {
    const server = await startServer();
    const stranger = await generateSelfSignedCertificate();
    const client = await startClient(server.port, { idleTimeoutMs: 2000 }, { caPem: stranger.certPem });
    const err = await client.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConnectionClosedError);
    expect((err as ConnectionClosedError).info.byPeer).toBe(false);
    expect((err as ConnectionClosedError).message).toMatch(/TLS|certificate/i);
  });

  it('is lenient without a CA only on loopback, and only with a warning', () => {
    expect(resolveClientTlsPolicy('127.0.0.1')).toMatchObject({ verifyPeer: false });
    expect(resolveClientTlsPolicy('127.0.0.1').warning).toMatch(/FELIX_TLS_CA/);
    expect(() => resolveClientTlsPolicy('192.0.2.10')).toThrow(TlsPolicyError);
    expect(() => resolveClientTlsPolicy('broker.example.com')).toThrow(/FELIX_TLS_INSECURE/);
    expect(resolveClientTlsPolicy('192.0.2.10', { insecure: true }).warning).toMatch(/INSECURE/);
    expect(resolveClientTlsPolicy('192.0.2.10', { caPem: 'x' })).toMatchObject({
      verifyPeer: true,
      warning: null,
    });
  });

  it('refuses to create a client endpoint for a non-loopback address without a CA, before sending anything', async () => {
    await expect(Endpoint.client({ host: '192.0.2.10', port: 5000 })).rejects.toThrow(TlsPolicyError);
  });
});

describe('settings', () => {
  it('rejects out-of-range values naming the setting and the allowed range', () => {
    expect(() => resolveTransportSettings({ maxUdpPayload: 1000 })).toThrow(TransportSettingsError);
    expect(() => resolveTransportSettings({ maxUdpPayload: 1000 })).toThrow(/maxUdpPayload.*1200 to 16383/);
    expect(() => resolveTransportSettings({ streamRecvWindow: 1.5 })).toThrow(/streamRecvWindow/);
    expect(() => resolveTransportSettings({ congestionControl: 'vegas' as never })).toThrow(
      /cubic \| reno \| bbr/,
    );
  });

  it('uses the loopback payload size for loopback peers', async () => {
    const server = await startServer(echoStreams, { loopbackUdpPayload: 8000 });
    const conn = await (await startClient(server.port, { loopbackUdpPayload: 8000 })).connect();
    const s = conn.openStream();
    const r = collect(s);
    s.end(randomBytes(200_000));
    await r;
    expect(conn.stats().maxUdpPayload).toBe(8000);
  });

  it('applies every congestion control algorithm', async () => {
    for (const cc of ['cubic', 'reno', 'bbr'] as const) {
      const server = await startServer(echoStreams, { congestionControl: cc });
      const conn = await (await startClient(server.port, { congestionControl: cc })).connect();
      expect(await echoOnce(conn, cc)).toBe(cc);
    }
  });
});
