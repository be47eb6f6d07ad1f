// Address validation over real QUIC on loopback: QUIC Retry (always, never, auto above a rate), tokens
// that only work for the address they were issued to, and the anti-amplification bound on what an
// unvalidated address can be sent (RFC 9000 §8.1). Bytes and packets are counted; nothing is timed.
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { Endpoint, type Connection, type ListenOptions } from '../../transport/index.js';
import { quiche, type QuicheConnection } from '../../transport/native.js';
import { applySettings, resolveTransportSettings } from '../../transport/settings.js';
import { collect, echoStreams, serverCert, startClient, until } from './harness.js';

const servers: Endpoint[] = [];
const sockets: dgram.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  await Promise.all(servers.splice(0).map((e) => e.close({ timeoutMs: 200 })));
});

async function server(opts: Partial<ListenOptions>): Promise<Endpoint> {
  const endpoint = await Endpoint.listen({
    host: '127.0.0.1',
    port: 0,
    tls: await serverCert(),
    onConnection: echoStreams,
    ...opts,
  });
  servers.push(endpoint);
  return endpoint;
}

async function echoes(c: Connection, bytes = 4): Promise<void> {
  const s = c.openStream();
  const data = randomBytes(bytes);
  s.write(data, true);
  expect((await collect(s)).equals(data)).toBe(true);
}

/** A client the test drives by hand: a quiche connection whose datagrams go through a plain UDP socket. */
class RawClient {
  readonly q: QuicheConnection;
  /** Bytes and datagrams the server sent to this socket. */
  received = 0;
  datagrams: Buffer[] = [];
  sent = 0;

  private constructor(
    readonly socket: dgram.Socket,
    private readonly serverPort: number,
  ) {
    const config = quiche.Config.withBoringSslCtx(false, false, null, null, null, null);
    applySettings(config, resolveTransportSettings(), 1350);
    this.q = quiche.Connection.connect(
      'localhost',
      randomBytes(16),
      { host: socket.address().address, port: socket.address().port },
      { host: '127.0.0.1', port: serverPort },
      config,
    );
    socket.on('message', (msg) => {
      this.received += msg.length;
      this.datagrams.push(msg);
    });
  }

  static async open(serverPort: number, host = '127.0.0.1'): Promise<RawClient> {
    const socket = dgram.createSocket('udp4');
    sockets.push(socket);
    await new Promise<void>((resolve) => socket.bind(0, host, resolve));
    return new RawClient(socket, serverPort);
  }

  /** The next datagram quiche has for the server, or null. */
  nextDatagram(): Buffer | null {
    const out = Buffer.alloc(65_535);
    const r = this.q.send(out);
    return r === null ? null : out.subarray(0, r[0]);
  }

  send(datagram: Buffer, from: dgram.Socket = this.socket): void {
    this.sent += datagram.length;
    from.send(datagram, this.serverPort, '127.0.0.1');
  }

  /** Feeds quiche the datagrams received so far. */
  feed(): void {
    for (const d of this.datagrams.splice(0)) {
      try {
        this.q.recv(d, {
          from: { host: '127.0.0.1', port: this.serverPort },
          to: { host: this.socket.address().address, port: this.socket.address().port },
        });
      } catch {
        // a packet quiche refuses is what the assertions look at, not an error of the test
      }
    }
  }
}

/** Long-header packet type bits of a datagram's first packet (version 1: 0 Initial, 3 Retry). */
function packetType(d: Buffer): number {
  return (d[0]! >> 4) & 3;
}

describe('QUIC Retry', () => {
  it('always: every client proves its address first, then connects and carries data on the Retry ID', async () => {
    const s = await server({ retry: 'always' });
    const client = await startClient(s.address.port);
    const c1 = await client.connect();
    const c2 = await client.connect();
    await echoes(c1);
    // Enough data for many short-header packets, all routed by the Retry's connection ID.
    await echoes(c2, 300_000);
    const stats = s.datagramStats();
    expect(stats.retriesSent).toBeGreaterThanOrEqual(2);
    expect(stats.retriesValidated).toBe(2);
    expect(s.connections).toHaveLength(2);
    c1.close(0, 'done');
    await until(() => s.connections.length === 1, 'the server to forget the closed connection');
    await echoes(c2);
  });

  it('never: no Retry is sent', async () => {
    const s = await server({ retry: 'never' });
    await echoes(await (await startClient(s.address.port)).connect());
    expect(s.datagramStats().retriesSent).toBe(0);
    expect(s.datagramStats().retriesValidated).toBe(0);
  });

  it('auto: engages above the configured rate of new clients, and every client still connects', async () => {
    const s = await server({ retry: 'auto', retryAboveHandshakesPerSecond: 2 });
    const client = await startClient(s.address.port);
    const connections = [];
    for (let i = 0; i < 6; i++) connections.push(await client.connect());
    for (const c of connections) await echoes(c);
    const stats = s.datagramStats();
    // The first two arrive below the rate; at least the last ones within the same second are retried.
    expect(stats.retriesValidated).toBeGreaterThanOrEqual(1);
    expect(stats.retriesValidated).toBeLessThanOrEqual(4);
  });

  it('a token works only from the address it was issued to, and only unaltered', async () => {
    const s = await server({ retry: 'always' });
    const raw = await RawClient.open(s.address.port);
    raw.send(raw.nextDatagram()!);
    await until(() => raw.datagrams.length > 0, 'the Retry');
    expect(packetType(raw.datagrams[0]!)).toBe(3);
    expect(s.connections).toHaveLength(0);
    raw.feed();
    // quiche's Initial again, now carrying the token and addressed to the Retry's connection ID.
    const withToken = raw.nextDatagram()!;
    expect(packetType(withToken)).toBe(0);

    // From another address (127.0.0.2 is loopback too): refused, no state.
    const elsewhere = dgram.createSocket('udp4');
    sockets.push(elsewhere);
    await new Promise<void>((resolve) => elsewhere.bind(0, '127.0.0.2', resolve));
    raw.send(withToken, elsewhere);
    await until(() => s.datagramStats().dropped.invalid_token === 1, 'the foreign token dropped');

    // Altered in one byte of the token (which follows the two connection IDs and the token length).
    const tampered = Buffer.from(withToken);
    const tokenAt = 6 + tampered[5]! + 1 + tampered[6 + tampered[5]!]! + 1;
    tampered[tokenAt + 3]! ^= 0x01;
    raw.send(tampered);
    await until(() => s.datagramStats().dropped.invalid_token === 2, 'the altered token dropped');
    expect(s.connections).toHaveLength(0);
    expect(s.datagramStats().retriesValidated).toBe(0);

    // The genuine one from the genuine address: the handshake goes on.
    raw.send(withToken);
    await until(() => s.datagramStats().retriesValidated === 1, 'the token accepted');
  });

  it('answers forged Initials with a Retry smaller than each, before spending an AEAD check on them', async () => {
    const s = await server({ retry: 'always' });
    const raw = await RawClient.open(s.address.port);
    const genuine = raw.nextDatagram()!;
    // The genuine header with noise for a payload: only the AEAD check could tell it from a real Initial.
    for (let i = 0; i < 20; i++) {
      const forged = Buffer.from(genuine);
      randomBytes(600).copy(forged, forged.length - 600);
      raw.send(forged);
    }
    await until(() => raw.datagrams.length === 20, 'a Retry for each forged Initial');
    expect(raw.datagrams.every((d) => packetType(d) === 3 && d.length < genuine.length)).toBe(true);
    expect(s.datagramStats().dropped.undecryptable).toBe(0);
    expect(s.connections).toHaveLength(0);
  });
});

describe('anti-amplification (RFC 9000 §8.1)', () => {
  /** Sends one genuine Initial and never answers; returns the bytes sent back once the server gave up. */
  async function unansweredHandshake(opts: Partial<ListenOptions>): Promise<{ sent: number; back: number }> {
    const s = await server({ handshakeTimeoutMs: 1_500, ...opts });
    const raw = await RawClient.open(s.address.port);
    raw.send(raw.nextDatagram()!);
    const settled = (): boolean =>
      s.datagramStats().handshakesTimedOut === 1 || (opts.retry === 'always' && raw.datagrams.length > 0);
    await until(settled, 'the server to give up on the handshake');
    // Anything still in flight on loopback arrives within a few event-loop turns.
    await new Promise((r) => setTimeout(r, 100));
    return { sent: raw.sent, back: raw.received };
  }

  it('sends an unvalidated address at most three times what it received', async () => {
    const { sent, back } = await unansweredHandshake({ retry: 'never' });
    console.log(
      `anti-amplification: ${sent} bytes received from the address, ${back} sent back (${(back / sent).toFixed(2)}×)`,
    );
    expect(back).toBeGreaterThan(0);
    expect(back).toBeLessThanOrEqual(3 * sent);
  });

  it('with Retry, answers an Initial with one packet smaller than it', async () => {
    const { sent, back } = await unansweredHandshake({ retry: 'always' });
    expect(back).toBeGreaterThan(0);
    expect(back).toBeLessThan(sent);
  });
});
