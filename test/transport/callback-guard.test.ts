// The endpoint's last-resort guard, over real QUIC on loopback: an application callback that throws
// costs only its own connection (closed with application code 0x1, 'internal error'), the error reaches
// onCallbackError, and another client on the same endpoint is served as before.
import { afterEach, describe, expect, it } from 'vitest';
import {
  Endpoint,
  INTERNAL_ERROR_CODE,
  type CloseInfo,
  type Connection,
  type Stream,
  type TransportSettings,
} from '../../transport/index.js';
import { collect, serverCert, until } from './harness.js';

const endpoints: Endpoint[] = [];
afterEach(async () => {
  await Promise.all(endpoints.splice(0).map((e) => e.close({ timeoutMs: 200 })));
});

interface Reported {
  readonly error: unknown;
  readonly connection: Connection;
}

interface GuardedServer {
  readonly endpoint: Endpoint;
  readonly port: number;
  readonly reported: Reported[];
}

/** A server whose connections `setup` prepares; without `report`, no onCallbackError is given. */
async function guardedServer(
  setup: (c: Connection, index: number) => void,
  opts: { settings?: Partial<TransportSettings>; report?: boolean | ((e: unknown) => void) } = {},
): Promise<GuardedServer> {
  const reported: Reported[] = [];
  let accepted = 0;
  const onCallbackError =
    opts.report === false
      ? undefined
      : (error: unknown, connection: Connection): void => {
          reported.push({ error, connection });
          if (typeof opts.report === 'function') opts.report(error);
        };
  const endpoint = await Endpoint.listen({
    host: '127.0.0.1',
    port: 0,
    tls: await serverCert(),
    settings: opts.settings,
    onConnection: (c) => setup(c, accepted++),
    onCallbackError,
  });
  endpoints.push(endpoint);
  return { endpoint, port: endpoint.address.port, reported };
}

/** Echoes every peer-opened bidirectional stream; throws from onData on a chunk holding 0xff. */
function echoUnlessPoisoned(c: Connection): void {
  c.onStream = (s: Stream) => {
    s.onData = (chunk, fin) => {
      if (chunk.includes(0xff)) throw new Error('poisoned byte');
      s.write(Buffer.from(chunk), fin);
    };
  };
}

async function client(port: number): Promise<{ conn: Connection; closed: Promise<CloseInfo> }> {
  const endpoint = await Endpoint.client({ host: '127.0.0.1', port });
  endpoints.push(endpoint);
  const conn = await endpoint.connect();
  const closed = new Promise<CloseInfo>((resolve) => (conn.onClose = resolve));
  return { conn, closed };
}

async function echoOnce(conn: Connection, text: string): Promise<string> {
  const s = conn.openStream();
  const reply = collect(s);
  s.end(Buffer.from(text));
  return (await reply).toString();
}

const INTERNAL_ERROR = { code: INTERNAL_ERROR_CODE, reason: 'internal error', isApp: true, byPeer: true };

describe('an application callback that throws', () => {
  it('closes only the connection whose onData threw, reports it, and serves the other client', async () => {
    const server = await guardedServer(echoUnlessPoisoned);
    const a = await client(server.port);
    const b = await client(server.port);
    expect(await echoOnce(a.conn, 'a')).toBe('a');
    expect(await echoOnce(b.conn, 'b')).toBe('b');

    const s = a.conn.openStream();
    s.write(Buffer.from([0x01, 0xff, 0x02]));
    expect(await a.closed).toMatchObject(INTERNAL_ERROR);

    expect(server.reported).toHaveLength(1);
    expect((server.reported[0]!.error as Error).message).toBe('poisoned byte');
    expect(server.reported[0]!.connection.remote.port).toBe(a.conn.local.port);
    expect(await echoOnce(b.conn, 'still served')).toBe('still served');
    await until(() => server.endpoint.connections.length === 1, 'the failed connection to be forgotten');
    expect(b.conn.closed).toBe(false);
  });

  it('tells the failed connection’s own onClose, once, and calls none of its handlers after', async () => {
    const seen: string[] = [];
    const server = await guardedServer((c) => {
      echoUnlessPoisoned(c);
      c.onClose = (info) => seen.push(`close ${info.code} ${info.reason}`);
    });
    const a = await client(server.port);
    const s = a.conn.openStream();
    // Two poisoned chunks in one stream: the second must not reach the handler again.
    s.write(Buffer.from([0xff]));
    s.sendNow();
    s.write(Buffer.from([0xff]));
    await a.closed;
    await until(() => server.endpoint.connections.length === 0, 'the failed connection to be forgotten');
    expect(seen).toEqual([`close ${INTERNAL_ERROR_CODE} internal error`]);
    expect(server.reported).toHaveLength(1);
  });

  it('contains a throw from onConnection', async () => {
    const server = await guardedServer((c, index) => {
      echoUnlessPoisoned(c);
      if (index === 0) throw new Error('onConnection failed');
    });
    const a = await client(server.port);
    expect(await a.closed).toMatchObject(INTERNAL_ERROR);
    const b = await client(server.port);
    expect(await echoOnce(b.conn, 'b')).toBe('b');
    expect(server.reported.map((r) => (r.error as Error).message)).toEqual(['onConnection failed']);
  });

  it('contains a throw from onStream', async () => {
    const server = await guardedServer((c, index) => {
      if (index === 0) {
        c.onStream = () => {
          throw new Error('onStream failed');
        };
      } else echoUnlessPoisoned(c);
    });
    const a = await client(server.port);
    const b = await client(server.port);
    a.conn.openStream().write(Buffer.from('x'));
    expect(await a.closed).toMatchObject(INTERNAL_ERROR);
    expect(await echoOnce(b.conn, 'b')).toBe('b');
    expect(server.reported).toHaveLength(1);
  });

  it('contains a throw from onReset', async () => {
    const server = await guardedServer((c) => {
      c.onStream = (s) => {
        s.onData = (chunk) => s.write(Buffer.from(chunk));
        s.onReset = () => {
          throw new Error('onReset failed');
        };
      };
    });
    const a = await client(server.port);
    const b = await client(server.port);
    const s = a.conn.openStream();
    const echoed = new Promise<void>((resolve) => (s.onData = () => resolve()));
    s.write(Buffer.from('x'));
    await echoed;
    s.reset(9);
    expect(await a.closed).toMatchObject(INTERNAL_ERROR);
    const bs = b.conn.openStream();
    const bEcho = new Promise<string>((resolve) => (bs.onData = (chunk) => resolve(chunk.toString())));
    bs.write(Buffer.from('b'));
    expect(await bEcho).toBe('b');
    expect(server.reported.map((r) => (r.error as Error).message)).toEqual(['onReset failed']);
  });

  it('contains a throw from onStopSending while queued bytes are retried', async () => {
    const big = Buffer.alloc(8 << 20, 0x61);
    const server = await guardedServer((c, index) => {
      if (index !== 0) return echoUnlessPoisoned(c);
      c.onStream = (s) => {
        s.onData = () => {
          s.onData = null;
          s.write(big); // far beyond the first congestion window: most of it waits in the queue
        };
        s.onStopSending = () => {
          throw new Error('onStopSending failed');
        };
      };
    });
    const a = await client(server.port);
    const b = await client(server.port);
    const s = a.conn.openStream();
    s.onData = () => {
      s.onData = null;
      s.stop(7);
    };
    s.write(Buffer.from('send me a lot'));
    expect(await a.closed).toMatchObject(INTERNAL_ERROR);
    expect(await echoOnce(b.conn, 'b')).toBe('b');
    expect(server.reported.map((r) => (r.error as Error).message)).toEqual(['onStopSending failed']);
  });

  it('contains a throw from onDrain', async () => {
    const server = await guardedServer(
      (c, index) => {
        if (index !== 0) return echoUnlessPoisoned(c);
        c.onStream = (s) => {
          s.onData = () => {
            s.onData = null;
            s.onDrain = () => {
              throw new Error('onDrain failed');
            };
            s.write(Buffer.alloc(4 << 20, 0x62)); // returns false: the queue is over the send window
          };
        };
      },
      { settings: { sendWindow: 64 << 10 } },
    );
    const a = await client(server.port);
    const b = await client(server.port);
    const s = a.conn.openStream();
    s.onData = () => undefined; // read everything, so the queue drains
    s.write(Buffer.from('go'));
    expect(await a.closed).toMatchObject(INTERNAL_ERROR);
    expect(await echoOnce(b.conn, 'b')).toBe('b');
    expect(server.reported.map((r) => (r.error as Error).message)).toEqual(['onDrain failed']);
  });

  it('contains a throw from onClose: the connection is still forgotten', async () => {
    const server = await guardedServer((c, index) => {
      echoUnlessPoisoned(c);
      if (index === 0) {
        c.onClose = () => {
          throw new Error('onClose failed');
        };
      }
    });
    const a = await client(server.port);
    const b = await client(server.port);
    a.conn.close(0, 'bye');
    await until(() => server.reported.length === 1, 'the onClose error to be reported');
    expect((server.reported[0]!.error as Error).message).toBe('onClose failed');
    await until(() => server.endpoint.connections.length === 1, 'the closed connection to be forgotten');
    expect(await echoOnce(b.conn, 'b')).toBe('b');
  });

  it('without onCallbackError, or when it throws itself, warns through the process and carries on', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => {
      if (w.name === 'TransportCallbackError') warnings.push(w);
    };
    process.on('warning', onWarning);
    try {
      const silent = await guardedServer(echoUnlessPoisoned, { report: false });
      const a = await client(silent.port);
      a.conn.openStream().write(Buffer.from([0xff]));
      expect(await a.closed).toMatchObject(INTERNAL_ERROR);
      await until(() => warnings.length === 1, 'a process warning');
      expect(warnings[0]!.message).toMatch(/poisoned byte/);

      const failingReporter = await guardedServer(echoUnlessPoisoned, {
        report: () => {
          throw new Error('the reporter failed too');
        },
      });
      const c = await client(failingReporter.port);
      const d = await client(failingReporter.port);
      c.conn.openStream().write(Buffer.from([0xff]));
      expect(await c.closed).toMatchObject(INTERNAL_ERROR);
      await until(() => warnings.length === 2, 'a second process warning');
      expect(warnings[1]!.message).toMatch(/poisoned byte[^]*the reporter failed too/);
      expect(await echoOnce(d.conn, 'd')).toBe('d');
    } finally {
      process.off('warning', onWarning);
    }
  });
});
