// Publishes without ack that cross the broker's `draining` notice are refused by it with a plain error
// naming no request. The SDK finds them by the order of the broker's answers and sends them again on the
// next connection: across SIGTERM restarts of a broker with durable streams, every publish without ack is
// in the stream exactly once.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { QUICK_RECONNECT, RestartableBroker, Timeline, client, eventually } from './harness.js';

const RESTARTS = 3;
// Written in one go right before each SIGTERM: the broker starts draining while they are on their way.
const BURST = 5_000;

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('publishes without ack refused by a draining broker', () => {
  it('are sent again: each is in the durable stream exactly once', async () => {
    const storage = mkdtempSync(join(tmpdir(), 'felix-drain-unacked-'));
    dirs.push(storage);
    const broker = await RestartableBroker.start({
      FELIX_DURABLE_DEFAULT: '1',
      FELIX_DURABLE_STORAGE_DIR: storage,
    });
    const warnings: string[] = [];
    const timeline = new Timeline();
    const c = await client(broker.address, {
      ...QUICK_RECONNECT,
      pubStreamsPerConn: 1,
      onWarning: (message) => warnings.push(message),
    });
    timeline.follow(c);

    const sent: string[] = [];
    for (let round = 0; round < RESTARTS; round++) {
      await c.publish('d', `acked ${round}`);
      for (let i = 0; i < BURST; i++) {
        const payload = `r${round}-${i}`;
        sent.push(payload);
        void c.publish('d', payload, { ack: 'none' });
      }
      await broker.kill('SIGTERM');
      await broker.startAgain();
      await eventually(
        () => timeline.statuses('publish', 0).filter((e) => e.type === 'reconnect').length > round,
        `reconnect ${round + 1}`,
      );
    }
    // Acked, on the same worker: everything before it has been appended once it is.
    await c.publish('d', 'END');

    const seen = new Map<string, number>();
    await new Promise<void>((resolve, reject) => {
      c.subscribe('d', {
        start: 'earliest',
        onEvent: (event) => {
          const payload = Buffer.from(event.payload).toString();
          seen.set(payload, (seen.get(payload) ?? 0) + 1);
          if (payload === 'END') resolve();
        },
      }).catch(reject);
    });
    const missing = sent.filter((payload) => !seen.has(payload));
    const twice = sent.filter((payload) => (seen.get(payload) ?? 0) > 1);
    expect({ missing: missing.length, twice: twice.length }).toEqual({ missing: 0, twice: 0 });
    expect(warnings.filter((w) => w.includes('draining'))).toEqual([]);
  }, 120_000);
});
