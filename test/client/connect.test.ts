import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, connect, FelixError, isFelixError } from '../../client/index.js';
import { writeTempFile } from '../config/helpers.js';
import { closedPort } from '../support/closed-port.js';

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

  it('says nothing listens at a closed port (its ICMP port unreachable), after trying for connectTimeoutMs', async () => {
    const port = await closedPort();
    const error = await failure(
      connect({ broker: `127.0.0.1:${port}`, env: {}, connectTimeoutMs: 800, onWarning: () => undefined }),
    );
    expect(error.code).toBe('connect_failed');
    expect(error.retry).toBe('retry');
    expect(error.message).toContain(`127.0.0.1:${port}`);
    expect(error.message).toMatch(
      /nothing listens at the broker's address \(its port answered ICMP port unreachable/,
    );
  });

  it('fails a host name that does not resolve as that, not as the TLS rule for other hosts', async () => {
    // .invalid never resolves (RFC 6761): a mistyped broker name.
    const error = await failure(
      connect({ broker: 'no-such-host.invalid:5000', env: {}, connectTimeoutMs: 3000 }),
    );
    expect(error.code).toBe('connect_failed');
    expect(error.retry).toBe('retry');
    expect(error.message).toMatch(/cannot resolve the broker's host name no-such-host\.invalid/);
    expect(error.message).not.toMatch(/FELIX_TLS_CA|without a CA/);
  });

  it('refuses a non-loopback broker without a CA, explaining FELIX_TLS_CA and FELIX_TLS_INSECURE', async () => {
    const error = await failure(connect({ broker: '192.0.2.1:5000', env: {}, connectTimeoutMs: 300 }));
    expect(error.code).toBe('connect_failed');
    expect(error.message).toMatch(/FELIX_TLS_CA/);
    expect(error.message).toMatch(/FELIX_TLS_INSECURE/);
  });
});

describe('connect with a CA file (tlsCa, FELIX_TLS_CA) that holds no usable certificate', () => {
  // Found when the setting is read, like a missing file: a ConfigError naming the setting and what is
  // wrong with the file, before anything is dialled (so no broker is needed).
  it.each([
    ['not PEM', 'x\n', /it is not PEM \(no -----BEGIN line\)/],
    [
      'a key, no certificate',
      '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n',
      /no PEM certificate/,
    ],
    [
      'a certificate that does not parse',
      '-----BEGIN CERTIFICATE-----\nxxxx\n-----END CERTIFICATE-----\n',
      /certificate 1 of 1 does not parse/,
    ],
  ])('%s: ConfigError naming FELIX_TLS_CA and option tlsCa', async (_, contents, reason) => {
    const path = writeTempFile(contents, 'ca.pem');
    const error: unknown = await connect({ broker: '127.0.0.1:1', env: {}, tlsCa: path }).then(
      () => undefined,
      (rejection: unknown) => rejection,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(isFelixError(error)).toBe(false);
    const { message } = error as ConfigError;
    expect(message).toContain(`Invalid FELIX_TLS_CA (option tlsCa): got "${path}": `);
    expect(message).toMatch(reason);
    expect((error as ConfigError).setting).toBe('FELIX_TLS_CA');
  });

  it('names the token option by the name the caller gave it: token, or authToken', async () => {
    for (const option of ['token', 'authToken'] as const) {
      await expect(connect({ broker: '127.0.0.1:1', env: {}, [option]: 'not a token' })).rejects.toThrow(
        `Invalid FELIX_AUTH_TOKEN (option ${option}): got "(hidden)"`,
      );
    }
  });

  it('names the environment when FELIX_TLS_CA came from there', async () => {
    const path = writeTempFile('not a certificate', 'ca.pem');
    await expect(connect({ broker: '127.0.0.1:1', env: { FELIX_TLS_CA: path } })).rejects.toThrow(
      /Invalid FELIX_TLS_CA \(from the environment\).*it is not PEM/,
    );
  });
});
