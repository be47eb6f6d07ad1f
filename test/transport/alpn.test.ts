// ALPN over real QUIC on loopback: a client offering ids the server does not speak fails its handshake
// at once with TLS alert no_application_protocol (0x178) instead of waiting out a timeout. (A client
// offering no ALPN at all meets the same alert from BoringSSL, which requires ALPN under QUIC; quiche
// refuses to build such a client, so it is not tested here.)
import { afterEach, describe, expect, it } from 'vitest';
import {
  ALPN,
  AlpnRefusedError,
  Endpoint,
  NO_APPLICATION_PROTOCOL,
  TransportSettingsError,
  resolveAlpn,
} from '../../transport/index.js';
import { collect, echoStreams, serverCert, startServer } from './harness.js';

const clients: Endpoint[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((e) => e.close({ timeoutMs: 200 })));
});

async function clientOffering(port: number, alpn: string | readonly string[]): Promise<Endpoint> {
  // A long idle timeout: were the refusal not answered, connect() would wait, not fail.
  const endpoint = await Endpoint.client({
    host: '127.0.0.1',
    port,
    alpn,
    settings: { idleTimeoutMs: 20_000 },
  });
  clients.push(endpoint);
  return endpoint;
}

describe('ALPN', () => {
  it("refuses a client offering only 'nope' with no_application_protocol, and keeps nothing", async () => {
    const server = await startServer(echoStreams);
    const client = await clientOffering(server.port, 'nope');
    const err = await client.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AlpnRefusedError);
    const refused = err as AlpnRefusedError;
    expect(refused.code).toBe('alpn_refused');
    expect(refused.offered).toEqual(['nope']);
    expect(refused.message).toMatch(/refused ALPN "nope".*no_application_protocol/);
    expect(refused.info).toMatchObject({ code: NO_APPLICATION_PROTOCOL, isApp: false, byPeer: true });
    // The refusal was answered from the first flight: no connection, no handshake slot on the server.
    expect(server.connections).toHaveLength(0);
    expect(server.endpoint.connections).toHaveLength(0);
    expect(server.endpoint.datagramStats().handshakesRefused).toBeGreaterThanOrEqual(1);
  });

  it("connects when one of the offered ids is the server's", async () => {
    const server = await startServer(echoStreams);
    const conn = await (await clientOffering(server.port, ['nope', ALPN])).connect();
    const s = conn.openStream();
    const reply = collect(s);
    s.end(Buffer.from('negotiated'));
    expect((await reply).toString()).toBe('negotiated');
  });

  it('accepts only the ids a server was given', async () => {
    const server = await Endpoint.listen({
      host: '127.0.0.1',
      port: 0,
      tls: await serverCert(),
      alpn: ['felix-next'],
      onConnection: echoStreams,
    });
    try {
      const felix = await clientOffering(server.address.port, ALPN);
      await expect(felix.connect()).rejects.toBeInstanceOf(AlpnRefusedError);
      const next = await clientOffering(server.address.port, 'felix-next');
      const conn = await next.connect();
      expect(conn.closed).toBe(false);
    } finally {
      await server.close({ timeoutMs: 200 });
    }
  });

  it('rejects an empty list and ids of 0 or more than 255 bytes, naming the option', () => {
    expect(resolveAlpn()).toEqual([ALPN]);
    expect(resolveAlpn('x')).toEqual(['x']);
    expect(() => resolveAlpn([])).toThrow(TransportSettingsError);
    expect(() => resolveAlpn('')).toThrow(/alpn/);
    expect(() => resolveAlpn(['ok', 'x'.repeat(256)])).toThrow(TransportSettingsError);
    expect(resolveAlpn('é'.repeat(127))).toHaveLength(1); // 254 bytes of UTF-8
  });
});
