// A client handshake towards a port where nothing listens yet: the ICMP port unreachable each Initial meets
// starts the handshake again shortly, so a server that comes up is found within its connect timeout, not at
// quiche's next probe of the first Initial (about 1 s, 3 s and 7 s after it). The server here starts 3.5 s
// in, past quiche's second probe, and the connect allows 6 s: quiche's own third probe (7 s) would miss it.
import { describe, expect, it } from 'vitest';
import type { Connection, TransportSettings } from '../../transport/index.js';
import { closedPort } from '../support/closed-port.js';
import { echoStreams, startClient, startServer } from './harness.js';

function echo(c: Connection, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = c.openStream(true);
    let got = '';
    s.onData = (chunk, fin) => {
      got += Buffer.from(chunk).toString();
      if (fin) resolve(got);
    };
    s.onReset = () => reject(new Error('stream reset'));
    s.write(Buffer.from(text), true);
  });
}

describe('a handshake towards a closed port', () => {
  // Both ways the socket's error reaches the endpoint: batched receive (recvmmsg) and segmented sends, or
  // Node's dgram alone.
  it.each<[string, Partial<TransportSettings>]>([
    ['batched UDP I/O', {}],
    ['Node dgram', { udpGso: 'off', udpRecvmmsg: 'off' }],
  ])('finds the server that comes up there within the connect timeout (%s)', async (_name, settings) => {
    const port = await closedPort();
    const client = await startClient(port, settings);
    const connecting = client.connect({ timeoutMs: 6_000 });
    await new Promise((r) => setTimeout(r, 3_500));
    const server = await startServer(echoStreams, {}, { port });
    const c = await connecting;
    expect(await echo(c, 'back')).toBe('back');
    // The attempts given up for new ones never reached a server: it saw one connection.
    expect(server.connections).toHaveLength(1);
    expect(client.redialCount).toBeGreaterThan(0);
  });

  it('still times out when nothing comes up, with no attempt left behind', async () => {
    const port = await closedPort();
    const client = await startClient(port);
    await expect(client.connect({ timeoutMs: 1_000 })).rejects.toMatchObject({ code: 'connect_timeout' });
    const redials = client.redialCount;
    expect(redials).toBeGreaterThan(0);
    // The timed-out attempt plans no redial of its own: the count stays where it was.
    await new Promise((r) => setTimeout(r, 600));
    expect(client.redialCount).toBe(redials);
  });
});
