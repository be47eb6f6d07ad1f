// The HTTP port bound to loopback (its default) answers only requests that name it by a loopback address or
// localhost: a web page under a DNS-rebound name sends its own name as Host, and must not read /metrics or
// /dashboard through a browser on the broker's host. Bound elsewhere, Host is the operator's business.
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { startBroker } from './raw-client.js';

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

  it('bound to every interface: serves whatever Host names it', async () => {
    const node = await startBroker({ FELIX_BROKER_METRICS_BIND: '0.0.0.0:0' });
    expect(await get(node.httpAddress.port, '/metrics', 'broker-1.internal:9100')).toBe(200);
  });
});
