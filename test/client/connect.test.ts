import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, FelixError } from '../../client/index.js';

const sockets: dgram.Socket[] = [];
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close();
});

/** A UDP port where nobody answers: like a wrong address, or a broker that is down. */
async function silentPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  sockets.push(socket);
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return socket.address().port;
}

async function failure(attempt: Promise<unknown>): Promise<FelixError> {
  try {
    await attempt;
  } catch (error) {
    if (error instanceof FelixError) return error;
    throw error;
  }
  throw new Error('expected connect to fail');
}

describe('connect', () => {
  it('fails with connect_failed when no broker answers, bounded by connectTimeoutMs', async () => {
    const port = await silentPort();
    const error = await failure(
      connect({ broker: `127.0.0.1:${port}`, env: {}, connectTimeoutMs: 300, onWarning: () => undefined }),
    );
    expect(error.code).toBe('connect_failed');
    // Nothing reached a broker: trying again is safe.
    expect(error.retry).toBe('retry');
    expect(error.message).toContain(`127.0.0.1:${port}`);
    expect(error.message).toMatch(/no QUIC handshake/);
  });

  it('refuses a non-loopback broker without a CA, explaining FELIX_TLS_CA and FELIX_TLS_INSECURE', async () => {
    const error = await failure(connect({ broker: '192.0.2.1:5000', env: {}, connectTimeoutMs: 300 }));
    expect(error.code).toBe('connect_failed');
    expect(error.message).toMatch(/FELIX_TLS_CA/);
    expect(error.message).toMatch(/FELIX_TLS_INSECURE/);
  });
});
