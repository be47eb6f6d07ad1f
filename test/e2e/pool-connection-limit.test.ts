// A pool connection opened after connect() (here a second publish connection) that the broker refuses for
// its per-address limit: the application hears of it at once (onWarning and the status event name the
// broker's reason), the connection is sought again, and the work placed on it goes out once a slot frees.
import { describe, expect, it } from 'vitest';
import type { StatusEvent } from '../../client/index.js';
import { client, startBroker } from './sdk-harness.js';

describe('a pool connection refused by the broker after connect()', () => {
  it('is reported at once with the reason, retried, and serves its work once the limit allows', async () => {
    // Each client family has its own socket, all on 127.0.0.1: publish 0 and the blocker's publish 0 fill it.
    const broker = await startBroker({ maxConnectionsPerAddress: '2' });
    const warnings: string[] = [];
    const pooled = await client(broker, {
      pubConnPool: 2,
      pubStreamsPerConn: 1,
      pubSharding: 'rr',
      reconnectInitialMs: 50,
      reconnectMaxMs: 100,
      onWarning: (m) => warnings.push(m),
    });
    const blocker = await client(broker);
    const statuses: StatusEvent[] = [];
    void (async () => {
      for await (const s of pooled.status()) statuses.push(s);
    })();

    // Round robin: the second publish goes to publish connection 1, which the broker refuses.
    const first = pooled.publish('limited', 'one');
    const second = pooled.publish('limited', 'two');
    await first;
    await until(() => warnings.some((w) => w.startsWith('publish connection 1 could not be opened')));
    const warning = warnings.find((w) => w.startsWith('publish connection 1'))!;
    expect(warning).toContain('connection limit reached for this address');
    expect(statuses[0]).toMatchObject({ type: 'disconnect', pool: 'publish', connection: 1 });
    expect(statuses[0]!.type === 'disconnect' && statuses[0]!.error.message).toContain(
      'connection limit reached for this address',
    );

    // A slot frees: the waiting publish goes out on the connection the retries open.
    await blocker.close();
    await second;
    expect(statuses.map((s) => s.type)).toContain('reconnecting');
  });
});

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(condition()).toBe(true);
}
