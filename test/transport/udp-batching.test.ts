// Batched UDP I/O. Segmentation offload (FELIX_UDP_GSO): bulk data at network-sized datagrams leaves in
// segmented sends, arrives intact both ways, and a server answers IPv4 and IPv6 peers through it. Batched
// receive (FELIX_UDP_RECVMMSG): many datagrams per read, senders' addresses as Node reports them, and a
// client still hears a server that went away and came back on the same port. Off means Node's dgram.
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { Endpoint, type Connection, type TransportSettings } from '../../transport/index.js';
import { BatchReceiver } from '../../transport/udp-mmsg.js';
import { serverCert, startClient, startServer, echoStreams } from './harness.js';

const NETWORK_PATH: Partial<TransportSettings> = { loopbackUdpPayload: 1350 };

/** Writes `payload` on a new stream and resolves with everything the echo sends back. */
function roundTrip(c: Connection, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = c.openStream(true);
    const parts: Buffer[] = [];
    s.onData = (chunk, fin) => {
      parts.push(Buffer.from(chunk));
      if (fin) resolve(Buffer.concat(parts));
    };
    s.onReset = () => reject(new Error('stream reset'));
    s.write(payload, true);
  });
}

const probe = await (async () => {
  const e = await Endpoint.client({ host: '127.0.0.1', port: 9, settings: NETWORK_PATH });
  const stats = e.segmentedSendStats();
  await e.close({ timeoutMs: 10 });
  return stats;
})();
const unavailable = probe.active ? null : probe.inactiveReason;
if (unavailable !== null) console.warn(`segmentation offload tests skipped: ${unavailable}`);
const receiveProbe = await (async () => {
  const e = await Endpoint.client({ host: '127.0.0.1', port: 9 });
  const stats = e.batchReceiveStats();
  await e.close({ timeoutMs: 10 });
  return stats;
})();
const receiveUnavailable = receiveProbe.active ? null : receiveProbe.inactiveReason;
if (receiveUnavailable !== null) console.warn(`batched receive tests skipped: ${receiveUnavailable}`);

describe.skipIf(unavailable !== null)('segmentation offload', () => {
  it('sends a 4 MiB echo at 1350-byte datagrams in segmented sends, byte for byte, both ways', async () => {
    const server = await startServer(echoStreams, NETWORK_PATH);
    const client = await startClient(server.port, NETWORK_PATH);
    const c = await client.connect();
    const payload = randomBytes(4 << 20);
    const echoed = await roundTrip(c, payload);
    expect(echoed.equals(payload)).toBe(true);
    for (const side of [client.segmentedSendStats(), server.endpoint.segmentedSendStats()]) {
      expect(side.active).toBe(true);
      // 4 MiB is ~3,100 datagrams of 1350 B; runs of several per sendmsg mean far fewer sends.
      expect(side.segmentedDatagrams).toBeGreaterThan(1000);
      expect(side.segmentedDatagrams).toBeGreaterThan(side.segmentedSends * 2);
    }
  });

  it('serves several clients of one server socket, each reached at its own address', async () => {
    const server = await startServer(echoStreams, NETWORK_PATH);
    const clients = await Promise.all([1, 2, 3].map(() => startClient(server.port, NETWORK_PATH)));
    const payloads = clients.map(() => randomBytes(1 << 20));
    const echoed = await Promise.all(clients.map(async (e, i) => roundTrip(await e.connect(), payloads[i]!)));
    echoed.forEach((b, i) => expect(b.equals(payloads[i]!)).toBe(true));
    expect(server.endpoint.segmentedSendStats().segmentedSends).toBeGreaterThan(0);
  });

  const hasIpv6Loopback = Object.values(networkInterfaces()).some((list) =>
    (list ?? []).some((a) => a.family === 'IPv6' && a.address === '::1'),
  );
  it.skipIf(!hasIpv6Loopback)('answers an IPv6 peer through offload (sockaddr_in6)', async () => {
    const cert = await serverCert();
    const server = await Endpoint.listen({
      host: '::1',
      port: 0,
      tls: cert,
      settings: NETWORK_PATH,
      onConnection: echoStreams,
    });
    const client = await Endpoint.client({ host: '::1', port: server.address.port, settings: NETWORK_PATH });
    try {
      const payload = randomBytes(1 << 20);
      const echoed = await roundTrip(await client.connect(), payload);
      expect(echoed.equals(payload)).toBe(true);
      expect(server.segmentedSendStats().segmentedSends).toBeGreaterThan(0);
    } finally {
      await client.close({ timeoutMs: 100 });
      await server.close({ timeoutMs: 100 });
    }
  });
});

describe.skipIf(receiveUnavailable !== null)('batched receive', () => {
  it('reads a burst of datagrams in far fewer calls, byte for byte', async () => {
    const server = await startServer(echoStreams, NETWORK_PATH);
    const client = await startClient(server.port, NETWORK_PATH);
    const payload = randomBytes(4 << 20);
    expect((await roundTrip(await client.connect(), payload)).equals(payload)).toBe(true);
    const read = server.endpoint.batchReceiveStats();
    expect(read.active).toBe(true);
    expect(read.datagrams).toBeGreaterThan(3000);
    expect(read.datagrams).toBeGreaterThan(read.calls * 2);
  });

  it("knows each client by the address Node gives the client's socket", async () => {
    const server = await startServer(echoStreams);
    const client = await startClient(server.port);
    await roundTrip(await client.connect(), Buffer.from('hello'));
    const remote = server.connections[0]!.remote;
    expect(remote).toEqual({ host: client.address.host, port: client.address.port });
  });

  it('hears a server that went away and came back on the same port (the ICMP error in between)', async () => {
    const first = await startServer(echoStreams);
    const port = first.port;
    const client = await startClient(port, { idleTimeoutMs: 2_000 });
    const c1 = await client.connect();
    expect((await roundTrip(c1, Buffer.from('one'))).toString()).toBe('one');
    await first.endpoint.close({ timeoutMs: 50 });
    // The client's next packets meet a closed port: ICMP unreachable, a socket error on the client's side.
    c1.openStream(true).write(Buffer.from('into the void'), true);
    await new Promise((r) => setTimeout(r, 100));
    const second = await startServer(echoStreams, {}, { port });
    const c2 = await client.connect({ timeoutMs: 5_000 });
    expect((await roundTrip(c2, Buffer.from('two'))).toString()).toBe('two');
    expect(second.connections).toHaveLength(1);
    expect(client.batchReceiveStats().active).toBe(true);
  });
});

describe.skipIf(receiveUnavailable !== null)('batched receive, a handler that throws', () => {
  it('reads on past every throw and warns at most once a second, counting the rest', async () => {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const warnings: string[] = [];
    const onWarning = (w: Error): void => {
      if (w.name === 'TransportDatagramError') warnings.push(w.message);
    };
    process.on('warning', onWarning);
    let handled = 0;
    const receiver = BatchReceiver.open(socket, 'auto', () => {
      handled++;
      throw new Error(`defect ${handled}`);
    });
    if (typeof receiver === 'string') throw new Error(receiver);
    const sender = dgram.createSocket('udp4');
    try {
      const total = 2_000;
      for (let i = 0; i < total; i++) {
        await new Promise<void>((r) =>
          sender.send(Buffer.from([i & 0xff]), socket.address().port, '127.0.0.1', () => r()),
        );
        if (i % 100 === 99) await new Promise((r) => setImmediate(r));
      }
      const deadline = Date.now() + 10_000;
      while (handled < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      expect(handled).toBe(total);
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
      // The sends took well under a few seconds: a warning for each second at most, the first one at once.
      expect(warnings.length).toBeGreaterThanOrEqual(1);
      expect(warnings.length).toBeLessThan(10);
      expect(warnings[0]).toMatch(/handling a datagram threw: Error: defect 1$/);
      expect(receiver.stats().active).toBe(true);
    } finally {
      process.off('warning', onWarning);
      receiver.close();
      sender.close();
      socket.close();
    }
  });
});

describe.skipIf(receiveUnavailable !== null)('batched receive and child processes', () => {
  it('releases its port on close even while a child process started meanwhile still runs', async () => {
    const endpoint = await Endpoint.listen({
      host: '127.0.0.1',
      port: 0,
      tls: await serverCert(),
      onConnection: () => undefined,
    });
    expect(endpoint.batchReceiveStats().active).toBe(true);
    const port = endpoint.address.port;
    // A child started while the endpoint is open inherits every descriptor not marked close-on-exec.
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)'], { stdio: 'ignore' });
    try {
      await endpoint.close({ timeoutMs: 50 });
      const again = dgram.createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        again.once('error', reject);
        again.bind(port, '127.0.0.1', () => resolve());
      });
      again.close();
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('FELIX_UDP_GSO=off, FELIX_UDP_RECVMMSG=off', () => {
  it('sends and reads every datagram through Node and says why batching is not in use', async () => {
    const off: Partial<TransportSettings> = { ...NETWORK_PATH, udpGso: 'off', udpRecvmmsg: 'off' };
    const server = await startServer(echoStreams, off);
    const client = await startClient(server.port, off);
    const payload = randomBytes(1 << 20);
    const echoed = await roundTrip(await client.connect(), payload);
    expect(echoed.equals(payload)).toBe(true);
    const stats = client.segmentedSendStats();
    expect(stats).toMatchObject({ active: false, segmentedSends: 0, segmentedDatagrams: 0 });
    expect(stats.inactiveReason).toMatch(/off by setting/);
    const read = server.endpoint.batchReceiveStats();
    expect(read).toMatchObject({ active: false, calls: 0, datagrams: 0 });
    expect(read.inactiveReason).toMatch(/off by setting/);
  });
});
