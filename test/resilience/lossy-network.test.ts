// Issue 12 item 6: a real broker process behind the impairment proxy, the SDK publishing with acks at
// 400 msg/s and subscribing through it. Whatever the path loses or reorders, no publish fails and every
// acked payload reaches the subscriber once, intact and in order. How long that takes is measured by
// bench/impair/loss-latency.ts (docs/benchmarks.md, "Under packet loss"), never asserted here.
import { afterEach, describe, expect, it } from 'vitest';
import { ImpairProxy } from '../../bench/impair/proxy.js';
import { runPacedLoad } from '../../bench/impair/paced-load.js';
import { spawnBroker } from '../e2e/broker-process.js';
import { client } from './harness.js';

const proxies: ImpairProxy[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

async function brokerBehindProxy(
  impairment: Parameters<typeof ImpairProxy.start>[0]['toTarget'],
  seed: number,
) {
  const broker = await spawnBroker();
  const proxy = await ImpairProxy.start({
    target: { host: '127.0.0.1', port: broker.quicPort },
    toTarget: impairment,
    seed,
  });
  proxies.push(proxy);
  const c = await client(proxy.address, { pubConnPool: 1, eventConnPool: 1 });
  return { proxy, c };
}

describe('through a lossy, reordering path', () => {
  it('3% loss, 5 ms delay, 25% reordering both ways at 400 msg/s: every acked payload once, intact, in order', async () => {
    const { proxy, c } = await brokerBehindProxy({ lossPercent: 3, delayMs: 5, reorderPercent: 25 }, 3);
    const result = await runPacedLoad(c, { stream: 'lossy', rate: 400, durationMs: 4_000 });
    const stats = proxy.stats();
    // The client first: with the path gone, its close would wait out closeTimeoutMs for answers.
    await c.close();
    await proxy.close();
    // The path really was lossy and reordering, both ways.
    expect(stats.toTarget.dropped).toBeGreaterThan(0);
    expect(stats.toClient.dropped).toBeGreaterThan(0);
    expect(stats.toClient.reordered).toBeGreaterThan(0);
    expect(result.failures).toEqual([]);
    expect(result).toMatchObject({
      published: 1600,
      acked: 1600,
      lost: 0,
      duplicates: 0,
      outOfOrder: 0,
      corrupted: 0,
    });
  });

  it('heavy reordering and duplicates without loss: still once and in order', async () => {
    const { proxy, c } = await brokerBehindProxy(
      { delayMs: 2, jitterMs: 2, reorderPercent: 50, reorderDelayMs: 15, duplicatePercent: 5 },
      4,
    );
    const result = await runPacedLoad(c, { stream: 'reordered', rate: 400, durationMs: 2_000 });
    const stats = proxy.stats();
    await c.close();
    await proxy.close();
    expect(stats.toClient.duplicated).toBeGreaterThan(0);
    expect(stats.toTarget.reordered).toBeGreaterThan(0);
    expect(result.failures).toEqual([]);
    expect(result).toMatchObject({
      published: 800,
      acked: 800,
      lost: 0,
      duplicates: 0,
      outOfOrder: 0,
      corrupted: 0,
    });
  });
});
