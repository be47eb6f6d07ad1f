// Shared fixtures for transport suites: real endpoints on 127.0.0.1, closed after each test.
import { afterEach } from 'vitest';
import {
  Endpoint,
  generateSelfSignedCertificate,
  type Connection,
  type GeneratedCertificate,
  type Stream,
  type TransportSettings,
  type ClientTlsOptions,
  type ListenOptions,
} from '../../transport/index.js';

let certPromise: Promise<GeneratedCertificate> | undefined;
export function serverCert(): Promise<GeneratedCertificate> {
  certPromise ??= generateSelfSignedCertificate();
  return certPromise;
}

const open: Endpoint[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((e) => e.close({ timeoutMs: 200 })));
});

export interface ServerFixture {
  endpoint: Endpoint;
  port: number;
  connections: Connection[];
  /** Resolves with the next connection whose handshake completes. */
  nextConnection(): Promise<Connection>;
}

export async function startServer(
  onConnection: (c: Connection) => void = () => undefined,
  settings: Partial<TransportSettings> = {},
  listen: Partial<Omit<ListenOptions, 'onConnection'>> = {},
): Promise<ServerFixture> {
  const cert = await serverCert();
  const connections: Connection[] = [];
  const waiters: ((c: Connection) => void)[] = [];
  const endpoint = await Endpoint.listen({
    host: '127.0.0.1',
    port: 0,
    tls: cert,
    settings,
    ...listen,
    onConnection(c) {
      connections.push(c);
      onConnection(c);
      waiters.shift()?.(c);
    },
  });
  open.push(endpoint);
  return {
    endpoint,
    port: endpoint.address.port,
    connections,
    nextConnection: () => new Promise((resolve) => waiters.push(resolve)),
  };
}

export async function startClient(
  port: number,
  settings: Partial<TransportSettings> = {},
  tls: ClientTlsOptions = {},
): Promise<Endpoint> {
  const endpoint = await Endpoint.client({ host: '127.0.0.1', port, settings, tls });
  open.push(endpoint);
  return endpoint;
}

/** Echoes every peer-opened bidirectional stream back, FIN included. */
export function echoStreams(c: Connection): void {
  c.onStream = (s: Stream) => {
    if (!s.bidirectional) return;
    s.onData = (chunk, fin) => {
      // The chunk is a view of shared scratch: copy before queueing it anywhere.
      s.write(Buffer.from(chunk), fin);
    };
  };
}

/** Collects everything a stream receives until FIN. */
export function collect(s: Stream): Promise<Buffer> {
  const parts: Buffer[] = [];
  return new Promise((resolve, reject) => {
    s.onData = (chunk, fin) => {
      parts.push(Buffer.from(chunk));
      if (fin) resolve(Buffer.concat(parts));
    };
    s.onReset = (code) => reject(new Error(`stream reset with ${code}`));
  });
}

/** Writes `data` in `chunkSize` pieces honouring backpressure, then FIN. Resolves with how often it had to wait. */
export function writeAll(s: Stream, data: Buffer, chunkSize: number): Promise<number> {
  let offset = 0;
  let waits = 0;
  return new Promise((resolve) => {
    const pump = (): void => {
      while (offset < data.length) {
        const piece = data.subarray(offset, offset + chunkSize);
        offset += piece.length;
        if (!s.write(piece)) {
          waits++;
          return;
        }
      }
      s.end();
      resolve(waits);
    };
    s.onDrain = pump;
    pump();
  });
}

export function until(predicate: () => boolean, what: string, limitMs = 20_000): Promise<void> {
  // A bound on waiting so a broken build fails with a message instead of hanging; never a speed check.
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = (): void => {
      if (predicate()) resolve();
      else if (Date.now() - started > limitMs) reject(new Error(`gave up waiting for ${what}`));
      else setTimeout(tick, 5);
    };
    tick();
  });
}
