// The HTTP port bounds its clients: one that never finishes its request headers is answered 408 and closed
// (not held for Node's 60 s + 30 s), and connections past MAX_HTTP_CONNECTIONS are refused while the others
// hold theirs, so local clients cannot take the descriptors the broker needs. Probes work again after.
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { MAX_HTTP_CONNECTIONS } from '../../broker/http.js';
import { startBroker } from './raw-client.js';

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.on('error', reject);
  });
}

/** GET `path` on a fresh connection: the status, or the error that ended it. */
function probe(port: number, path: string): Promise<number | string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () =>
      socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`),
    );
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0)));
  });
}

describe('the HTTP port under slow and many clients', () => {
  it('answers a client that never finishes its headers 408 and closes it', async () => {
    const node = await startBroker();
    const slow = await open(node.httpAddress.port);
    slow.write('GET /metrics HTTP/1.1\r\nHost: localhost\r\nX-Slow: ');
    let answer = '';
    slow.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    await new Promise((resolve) => slow.on('close', resolve));
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
  }, 30_000);

  it(`refuses connections past ${MAX_HTTP_CONNECTIONS} while they are held, and serves again once they go`, async () => {
    const node = await startBroker();
    const port = node.httpAddress.port;
    const held: Socket[] = [];
    try {
      for (let i = 0; i < MAX_HTTP_CONNECTIONS; i++) held.push(await open(port));
      expect(await probe(port, '/live')).not.toBe(200);
    } finally {
      for (const socket of held) socket.destroy();
    }
    let status: number | string = 0;
    for (let attempt = 0; attempt < 50 && status !== 200; attempt++) {
      status = await probe(port, '/live');
      if (status !== 200) await new Promise((r) => setTimeout(r, 20));
    }
    expect(status).toBe(200);
  }, 30_000);
});
