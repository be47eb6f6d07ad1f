// Connection-level receive credit and streams abandoned with bytes unread. The quiche under the transport
// (0.18, from @matrixai/quic) drops a stream's unread bytes when this side stops it or the peer resets it,
// and never gives their credit back to the connection (fixed upstream in 0.24.7, cloudflare/quiche#2158).
// A stop is made whole by reading the bytes out first; a reset cannot be, so it is counted
// (Connection.strandedBytes) and reported (onCreditStranded) for the owner to move to a new connection.
// Real endpoints on loopback.
import { describe, expect, it } from 'vitest';
import type { Connection, Stream } from '../../transport/index.js';
import { collect, startClient, startServer, until } from './harness.js';

const STREAM_WINDOW = 16 * 1024;
const CONNECTION_WINDOW = 64 * 1024;
// Twice the connection's window, a stream window at a time.
const ROUNDS = (2 * CONNECTION_WINDOW) / STREAM_WINDOW;
const WINDOWS = { streamRecvWindow: STREAM_WINDOW, connRecvWindow: CONNECTION_WINDOW };

/** A server that pauses every stream the client opens (leaving its bytes in quiche) until told otherwise. */
async function pausingServer(onStream: (s: Stream) => void = () => undefined): Promise<{
  port: number;
  streams: Stream[];
  connection: () => Connection;
  pausing: { on: boolean };
}> {
  const streams: Stream[] = [];
  const pausing = { on: true };
  let accepted: Connection | undefined;
  const server = await startServer((c) => {
    accepted = c;
    c.onStream = (s) => {
      streams.push(s);
      onStream(s);
      if (pausing.on) s.pause();
    };
  }, WINDOWS);
  return { port: server.port, streams, connection: () => accepted!, pausing };
}

/** Opens a stream and writes until the peer's stream window is full (quiche refuses more). */
async function fillWindow(connection: Connection): Promise<Stream> {
  const s = connection.openStream();
  s.write(Buffer.alloc(STREAM_WINDOW * 2, 1));
  await until(() => s.writableLength > 0 && s.writableLength <= STREAM_WINDOW, 'the stream window to fill');
  return s;
}

describe('receive credit of streams abandoned with bytes unread', () => {
  it('is given back when this side stops them: the connection carries twice its window and more', async () => {
    let last: Promise<Buffer> | undefined;
    const server = await pausingServer((s) => {
      if (!server.pausing.on) last = collect(s);
    });
    const client = await (await startClient(server.port, { sendWindow: 0 })).connect();
    for (let round = 0; round < ROUNDS; round++) {
      await fillWindow(client);
      await until(() => server.streams.length === round + 1, 'the server to see the stream');
      server.streams[round]!.stop(0x202);
    }
    server.pausing.on = false;
    client.openStream().end(Buffer.from('still flowing'));
    await until(() => last !== undefined, 'the server to see the last stream');
    expect((await last!).toString()).toBe('still flowing');
    expect(server.connection().strandedBytes).toBe(0);
  });

  it('is counted when the peer resets them, and reported once it may be half the window', async () => {
    const server = await pausingServer();
    const client = await (await startClient(server.port, { sendWindow: 0 })).connect();
    const reported: number[] = [];
    await until(() => server.connection() !== undefined, 'the server to accept');
    server.connection().onCreditStranded = (bytes) => reported.push(bytes);
    const resets: number[] = [];
    for (let round = 0; round < 2; round++) {
      const s = await fillWindow(client);
      await until(() => server.streams.length === round + 1, 'the server to see the stream');
      const held = server.streams[round]!;
      held.onReset = (code) => resets.push(code);
      const sentBefore = client.stats().packetsSent;
      s.reset(0x102);
      // Every packet the client sent, the reset's included, has reached the server's quiche.
      await until(() => client.stats().packetsSent > sentBefore, 'the reset to be sent');
      const sent = client.stats().packetsSent;
      await until(() => server.connection().stats().packetsReceived >= sent, 'the reset to arrive');
      // The application reads again only after the reset, as the SDK lets go of an evicted subscription.
      held.resume();
      await until(() => resets.length === round + 1, 'the reset to be read');
    }
    expect(resets).toEqual([0x102, 0x102]);
    expect(server.connection().strandedBytes).toBe(2 * STREAM_WINDOW);
    expect(reported).toEqual([2 * STREAM_WINDOW]);
  });

  it('is not counted for a reset stream that was read to the end of what arrived', async () => {
    const got: number[] = [];
    const server = await pausingServer((s) => (s.onData = (chunk) => got.push(chunk.length)));
    server.pausing.on = false;
    const client = await (await startClient(server.port)).connect();
    const s = client.openStream();
    s.write(Buffer.from('read at once'));
    await until(() => server.streams.length === 1, 'the server to see the stream');
    await until(() => got.length > 0, 'the bytes to be read');
    const reset = new Promise<number>((resolve) => (server.streams[0]!.onReset = resolve));
    s.reset(0x202);
    expect(await reset).toBe(0x202);
    expect(server.connection().strandedBytes).toBe(0);
  });
});
