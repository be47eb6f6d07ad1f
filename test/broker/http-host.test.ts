// The HTTP port bound to loopback (its default) answers only requests that name it by a loopback address or
// localhost: a web page under a DNS-rebound name sends its own name as Host, and must not read /metrics or
// /dashboard through a browser on the broker's host. Bound elsewhere, Host is the operator's business.
import { request } from 'node:http';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startBroker } from './raw-client.js';
import { startLoggedBroker } from '../support/logged-broker.js';

function get(port: number, path: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sends `text` as it is over TCP and resolves with the status code of the answer. */
function rawStatus(port: number, text: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve(Number(/^HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1] ?? 0)));
  });
}

describe('the HTTP port and the Host it is named by', () => {
  it('bound to loopback: refuses a foreign Host on every path, serves loopback names', async () => {
    const node = await startBroker();
    const port = node.httpAddress.port;
    for (const path of ['/metrics', '/dashboard', '/ready', '/live']) {
      expect(await get(port, path, `evil.example:${port}`), path).toBe(403);
      expect(await get(port, path, 'evil.example'), path).toBe(403);
    }
    for (const host of [
      `localhost:${port}`,
      `127.0.0.1:${port}`,
      `[::1]:${port}`,
      'LOCALHOST',
      '127.0.0.2',
    ]) {
      expect(await get(port, '/metrics', host), host).toBe(200);
    }
  });

  it('refuses a request with two Host fields (400) whatever their order; one without Host is no browser', async () => {
    const node = await startBroker();
    const port = node.httpAddress.port;
    const twoHosts = (first: string, second: string): string =>
      `GET /metrics HTTP/1.1\r\nHost: ${first}\r\nHost: ${second}\r\nConnection: close\r\n\r\n`;
    expect(await rawStatus(port, twoHosts('localhost', 'evil.example'))).toBe(400);
    expect(await rawStatus(port, twoHosts('evil.example', 'localhost'))).toBe(400);
    expect(await rawStatus(port, twoHosts('localhost', 'localhost'))).toBe(400);
    // HTTP/1.0 allows no Host; a browser always sends one, so such a request is a local tool's.
    expect(await rawStatus(port, 'GET /metrics HTTP/1.0\r\n\r\n')).toBe(200);
  });

  it('bound to every interface: serves whatever Host names it, and warns at start that anyone may read it', async () => {
    const { node, logs } = await startLoggedBroker({ FELIX_BROKER_METRICS_BIND: '0.0.0.0:0' });
    expect(await get(node.httpAddress.port, '/metrics', 'broker-1.internal:9100')).toBe(200);
    const unauthenticated = /HTTP port .* is not bound to loopback: anyone who reaches it reads/;
    expect(logs.find((l) => unauthenticated.test(String(l.msg)))?.level).toBe(40);
    const loopback = await startLoggedBroker();
    expect(loopback.logs.some((l) => l.msg === 'felix-ts broker listening')).toBe(true);
    expect(loopback.logs.some((l) => unauthenticated.test(String(l.msg)))).toBe(false);
  });
});
