// A server endpoint that cannot bind leaves nothing behind: the failed bind releases its socket (an
// in-process caller retrying must not leak one per try). Certificates are judged by the broker before it
// starts the endpoint (broker/tls-files.ts); quiche itself takes any bytes here and fails at handshakes.
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Endpoint } from '../../transport/index.js';
import { serverCert } from './harness.js';

const openFds = (): number => readdirSync('/proc/self/fd').length;

describe('a server endpoint that cannot start', () => {
  it('releases its socket when the port is taken, however often it is tried', async () => {
    const tls = await serverCert();
    const holder = await Endpoint.listen({ host: '127.0.0.1', port: 0, tls, onConnection: () => undefined });
    try {
      const before = openFds();
      for (let i = 0; i < 50; i++) {
        await expect(
          Endpoint.listen({
            host: '127.0.0.1',
            port: holder.address.port,
            tls,
            onConnection: () => undefined,
          }),
        ).rejects.toMatchObject({ code: 'EADDRINUSE' });
      }
      expect(openFds()).toBeLessThanOrEqual(before + 2);
    } finally {
      await holder.close({ timeoutMs: 200 });
    }
  });
});
