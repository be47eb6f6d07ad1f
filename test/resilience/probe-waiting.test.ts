// A publisher whose acked publishes are all written and wait for their acks (FELIX_ACK_ON_COMMIT with a
// periodic fsync) has nothing in flight at the QUIC level: after a kill -9 and a restart with the same
// FELIX_RESET_KEY it would send nothing — and so meet no stateless reset — until its next keep-alive. The
// SDK probes a connection with requests waiting for answers once the broker has been silent for about a
// second, so the publisher learns of the restart and sends its publishes again. The keep-alive and the
// request timeout here are longer than the test waits: only the probe can bring the publishes back.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { storageDir } from '../durability/durable-harness.js';
import { client, eventually, QUICK_RECONNECT, RestartableBroker, Timeline } from './harness.js';

const RESET_KEY = 'c3'.repeat(32);

describe('a restart while publishes wait for their acks', () => {
  it('is noticed by probing the waiting connection: the publishes are sent again and acked, before any keep-alive', async () => {
    const dir = storageDir();
    const broker = await RestartableBroker.start({
      FELIX_RESET_KEY: RESET_KEY,
      FELIX_DURABLE_STORAGE_DIR: dir,
      FELIX_DURABLE_DEFAULT: '1',
      FELIX_ACK_ON_COMMIT: '1',
      // The acks wait for an fsync that does not come while the test runs.
      FELIX_DURABLE_FSYNC: 'periodic',
      FELIX_DURABLE_FSYNC_INTERVAL_MS: '600000',
    });
    const timeline = new Timeline();
    const c = await client(broker.address, {
      idleTimeoutMs: 300_000,
      keepaliveMs: 120_000,
      requestTimeoutMs: 120_000,
      ...QUICK_RECONNECT,
    });
    timeline.follow(c);
    const outcomes: string[] = [];
    const waiting = ['w0', 'w1', 'w2'].map((p) =>
      c.publish('waiting', p).then(
        () => outcomes.push(`${p} acked`),
        (error: Error) => outcomes.push(`${p} failed: ${error.message}`),
      ),
    );
    // Written and waiting: the records are in the file (what the restart recovers), not committed.
    const segment = join(dir, 't1', 'default', 'waiting', '00000000000000000000.log');
    await eventually(() => existsSync(segment) && statSync(segment).size > 0, 'the publishes written');
    expect(outcomes).toEqual([]);

    await broker.kill('SIGKILL');
    await broker.startAgain();
    // Only a packet from the client meets the new broker's stateless reset; the probe is that packet.
    await eventually(() => outcomes.length === 3, 'the waiting publishes to be answered');
    await Promise.all(waiting);
    expect(outcomes.sort()).toEqual(['w0 acked', 'w1 acked', 'w2 acked']);
    const lost = timeline.statuses('publish', 0)[0];
    expect(lost?.type === 'disconnect' && lost.error.message).toMatch(/stateless reset/);
  }, 60_000);
});
