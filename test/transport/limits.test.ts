// Server admission limits over real QUIC on loopback: connections in total and per address, the
// handshake rate and the handshake timeout, and the peer's stream limit. Each refuses the excess and
// serves everyone else.
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  CONNECTION_REFUSED,
  ConnectionClosedError,
  Endpoint,
  type AdmissionLimits,
  type Connection,
  type ListenOptions,
} from '../../transport/index.js';
import { quiche } from '../../transport/native.js';
import { applySettings, resolveTransportSettings } from '../../transport/settings.js';
import { connectRaw, startBroker } from '../broker/raw-client.js';
import { collect, echoStreams, serverCert, startClient, startServer, until } from './harness.js';

const open: Endpoint[] = [];

async function limitedServer(limits: AdmissionLimits & Partial<ListenOptions>): Promise<Endpoint> {
  const endpoint = await Endpoint.listen({
    host: '127.0.0.1',
    port: 0,
    tls: await serverCert(),
    onConnection: echoStreams,
    ...limits,
  });
  open.push(endpoint);
  return endpoint;
}

async function connectNew(port: number): Promise<Connection> {
  const client = await startClient(port);
  return client.connect();
}

async function echoes(c: Connection): Promise<void> {
  const s = c.openStream();
  s.write(Buffer.from('ping'), true);
  expect((await collect(s)).toString()).toBe('ping');
}

/**
 * Starts a connection and waits until the server has dropped at least one of its Initials for `reason`;
 * the returned promise settles later (a refused client keeps retransmitting until room frees).
 */
async function refusedAttempt(
  server: Endpoint,
  reason: 'handshake_rate',
): Promise<{ readonly connection: Promise<Connection> }> {
  const before = server.datagramStats().dropped[reason];
  const client = await startClient(server.address.port);
  const attempt = client.connect();
  attempt.catch(() => undefined);
  await until(() => server.datagramStats().dropped[reason] > before, `an Initial dropped for ${reason}`);
  // Wrapped: an async function returning the promise itself would wait for it.
  return { connection: attempt };
}

/**
 * A connect refused by a limit: it fails (not times out) with QUIC's CONNECTION_REFUSED from the server
 * and the limit as the reason.
 */
async function expectRefused(attempt: Promise<Connection>, reason: RegExp): Promise<void> {
  const error = await attempt.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConnectionClosedError);
  const info = (error as ConnectionClosedError).info;
  expect(info).toMatchObject({ code: CONNECTION_REFUSED, isApp: false, byPeer: true, timedOut: false });
  expect(info.reason).toMatch(reason);
}

/** Sends one genuine client Initial from a socket that never answers: a handshake that never finishes. */
async function halfOpenHandshake(port: number): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const config = quiche.Config.withBoringSslCtx(false, false, null, null, null, null);
  applySettings(config, resolveTransportSettings(), 1350);
  const q = quiche.Connection.connect(
    'localhost',
    randomBytes(16),
    { host: '127.0.0.1', port: socket.address().port },
    { host: '127.0.0.1', port },
    config,
  );
  const out = Buffer.alloc(65_535);
  const r = q.send(out)!;
  socket.send(out, 0, r[0], port, '127.0.0.1');
  return socket;
}

describe('connection limits', () => {
  it('refuses the connection past maxConnections with a reason it reads at once, serves the others, and accepts a new one once one closes', async () => {
    const server = await limitedServer({ maxConnections: 2 });
    try {
      const port = server.address.port;
      const first = await connectNew(port);
      const second = await connectNew(port);

      await expectRefused(connectNew(port), /connection limit reached: the server holds its maximum/);
      expect(server.datagramStats().dropped.connection_limit).toBeGreaterThanOrEqual(1);
      expect(server.datagramStats().refusalsSent).toBeGreaterThanOrEqual(1);
      expect(server.connections.length).toBe(2);
      await echoes(first);
      await echoes(second);

      first.close(0, 'done');
      await until(() => server.connections.length === 1, 'the server to forget the closed connection');
      await echoes(await connectNew(port));
      await echoes(second);
      expect(server.datagramStats().dropped.address_limit).toBe(0);
    } finally {
      await Promise.all(open.splice(0).map((e) => e.close({ timeoutMs: 200 })));
    }
  });

  it('refuses a new connection at once once the server stops accepting (draining); the open ones go on', async () => {
    const server = await limitedServer({ maxConnections: 100 });
    try {
      const first = await connectNew(server.address.port);
      server.stopAccepting();
      await expectRefused(
        connectNew(server.address.port),
        /not accepting connections: the server is shutting down/,
      );
      expect(server.datagramStats().dropped.not_accepting).toBeGreaterThanOrEqual(1);
      expect(server.datagramStats().refusalsSent).toBeGreaterThanOrEqual(1);
      await echoes(first);
    } finally {
      await Promise.all(open.splice(0).map((e) => e.close({ timeoutMs: 200 })));
    }
  });

  it('refuses a second connection from one address past maxConnectionsPerAddress', async () => {
    const server = await limitedServer({ maxConnections: 100, maxConnectionsPerAddress: 1 });
    try {
      const first = await connectNew(server.address.port);
      await expectRefused(connectNew(server.address.port), /connection limit reached for this address/);
      expect(server.datagramStats().dropped.connection_limit).toBe(0);
      expect(server.connections.length).toBe(1);
      await echoes(first);

      first.close(0, 'done');
      await until(() => server.connections.length === 0, 'the server to forget the closed connection');
      await echoes(await connectNew(server.address.port));
    } finally {
      await Promise.all(open.splice(0).map((e) => e.close({ timeoutMs: 200 })));
    }
  });

  it('rejects limits that are not positive integers', async () => {
    await expect(limitedServer({ maxConnections: 0 })).rejects.toThrow(/maxConnections/);
    await expect(limitedServer({ maxHandshakesPerSecond: 1.5 })).rejects.toThrow(/maxHandshakesPerSecond/);
    await expect(limitedServer({ handshakeTimeoutMs: -1 })).rejects.toThrow(/handshakeTimeoutMs/);
  });
});

describe('handshake limits', () => {
  it('drops new handshakes past maxHandshakesPerSecond; the dropped client gets in once the budget refills', async () => {
    const server = await limitedServer({ maxHandshakesPerSecond: 1 });
    try {
      const first = await connectNew(server.address.port);
      // Its first Initial finds the one-per-second budget spent; a retransmission, once a token has
      // come back, is accepted.
      const second = await refusedAttempt(server, 'handshake_rate');
      await echoes(first);
      await echoes(await second.connection);
    } finally {
      await Promise.all(open.splice(0).map((e) => e.close({ timeoutMs: 200 })));
    }
  });

  it('forgets a handshake that does not finish within handshakeTimeoutMs and frees its slot', async () => {
    const server = await limitedServer({ maxConnections: 1, handshakeTimeoutMs: 300, retry: 'never' });
    const silent = await halfOpenHandshake(server.address.port);
    try {
      await until(() => server.connections.length === 1, 'the half-open handshake to be accepted');
      // The half-open handshake holds the only slot until its timeout frees it.
      await expectRefused(connectNew(server.address.port), /connection limit reached/);
      await until(() => server.datagramStats().handshakesTimedOut === 1, 'the handshake timeout');
      await echoes(await connectNew(server.address.port));
      expect(server.datagramStats().handshakesTimedOut).toBe(1);
      expect(server.connections.length).toBe(1);
    } finally {
      silent.close();
      await Promise.all(open.splice(0).map((e) => e.close({ timeoutMs: 200 })));
    }
  });
});

describe('stream limit', () => {
  it('holds back a stream past maxStreamsBidi by flow control; the open ones work, and one more opens once one ends', async () => {
    const server = await startServer(echoStreams, { maxStreamsBidi: 2 });
    const client = await startClient(server.port);
    const c = await client.connect();
    const a = c.openStream();
    const b = c.openStream();
    expect(() => c.openStream()).toThrow(expect.objectContaining({ code: 'stream_limit' }));

    b.write(Buffer.from('still served'), true);
    expect((await collect(b)).toString()).toBe('still served');
    // b ended both ways: the server's MAX_STREAMS grants its place to a new stream.
    let third: ReturnType<typeof c.openStream> | undefined;
    await until(() => {
      try {
        third = c.openStream();
        return true;
      } catch {
        return false;
      }
    }, 'MAX_STREAMS to grant a third stream');
    const echoedThird = collect(third!);
    const echoedA = collect(a);
    third!.write(Buffer.from('third'), true);
    a.write(Buffer.from('first'), true);
    expect((await echoedThird).toString()).toBe('third');
    expect((await echoedA).toString()).toBe('first');
  });
});

describe('broker settings', () => {
  async function droppedFor(httpPort: number, reason: string): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    const line = text
      .split('\n')
      .find((l) => l.startsWith(`felix_dropped_datagrams_total{reason="${reason}"}`));
    return line === undefined ? 0 : Number(line.split(' ').pop());
  }

  it('FELIX_MAX_CONNECTIONS_PER_ADDRESS and FELIX_MAX_STREAMS_PER_CONN reach the endpoint', async () => {
    const node = await startBroker({
      FELIX_MAX_CONNECTIONS_PER_ADDRESS: '1',
      FELIX_MAX_STREAMS_PER_CONN: '2',
    });
    const first = await connectRaw(node);
    first.openStream();
    first.openStream();
    expect(() => first.openStream()).toThrow(expect.objectContaining({ code: 'stream_limit' }));

    await expectRefused(connectRaw(node), /connection limit reached for this address/);
    expect(await droppedFor(node.httpAddress.port, 'address_limit')).toBeGreaterThanOrEqual(1);
    first.close(0, 'done');
    // Refused at once while the broker has not yet seen the close; accepted once it has.
    let next: Awaited<ReturnType<typeof connectRaw>> | undefined;
    for (let i = 0; i < 200 && next === undefined; i++) next = await connectRaw(node).catch(() => undefined);
    expect(next?.established).toBe(true);
  });
});
