// A `latest` subscription that had received nothing when its broker died resumes where it started, not at
// the restarted broker's tail: on a durable stream (same epoch after the restart) it receives what was
// published between the restart and its resume. Before `subscribed.start_offset` the SDK resumed such a
// subscription as `latest` again and silently missed those events. The subscriber reaches the broker
// through a UDP proxy that is cut while the broker restarts and the events are published, so the resume
// comes after them whatever the host's speed — the order is made, not timed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ImpairProxy } from '../../bench/impair/proxy.js';
import type { GapInfo } from '../../client/index.js';
import { client, eventually, QUICK_RECONNECT, RestartableBroker } from './harness.js';

const RESET_KEY = 'b2'.repeat(32);
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('a latest subscription with no event yet, across a broker restart', () => {
  it('resumes from where it started: the events published while it was away on a durable stream arrive', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'felix-latest-resume-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const broker = await RestartableBroker.start({
      FELIX_DURABLE_STORAGE_DIR: dir,
      FELIX_DURABLE_DEFAULT: '1',
      FELIX_RESET_KEY: RESET_KEY,
    });
    cleanups.push(() => broker.kill('SIGTERM'));
    const proxy = await ImpairProxy.start({
      target: { host: '127.0.0.1', port: broker.port },
      toTarget: {},
      toClient: {},
    });
    cleanups.push(() => proxy.close());
    const received: string[] = [];
    const gaps: GapInfo[] = [];
    const subscriber = await client(proxy.address, { ...QUICK_RECONNECT, keepaliveMs: 200 });
    const sub = await subscriber.subscribe('quiet', {
      start: 'latest',
      onEvent: (e) => received.push(Buffer.from(e.payload).toString()),
      onGap: (g) => gaps.push(g),
    });
    const epoch = sub.epoch;
    // Where to resume before any event: where it started (the new stream's tail, 0), not -1.
    expect(sub.nextOffset).toBe(0);

    // The subscriber hears nothing from here until the events are in the restarted broker's log.
    proxy.impair({ lossPercent: 100 });
    await broker.kill('SIGKILL');
    await broker.startAgain();
    const publisher = await client(broker.address, QUICK_RECONNECT);
    for (let i = 0; i < 3; i++) await publisher.publish('quiet', `while-away-${i}`);
    proxy.impair({ lossPercent: 0 });

    await eventually(() => received.length >= 3, 'the events published while the subscriber was away');
    expect(received).toEqual([0, 1, 2].map((i) => `while-away-${i}`));
    // The same history (a durable stream keeps its epoch): nothing missed, so no gap.
    expect(sub.epoch).toBe(epoch);
    expect(gaps).toEqual([]);
    await publisher.publish('quiet', 'after');
    await eventually(() => received.length === 4, 'a live event after the resume');
    expect(received.at(-1)).toBe('after');
  }, 60_000);
});
