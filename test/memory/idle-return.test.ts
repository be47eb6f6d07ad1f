// FELIX_IDLE_MEMORY_RETURN_MS: a broker process that falls quiet after a burst gives the memory the burst
// left behind back to the operating system, once, and says so in its log and /metrics; while its samples
// fail (out of file descriptors) it says that, at a bounded rate.
import { existsSync } from 'node:fs';
import parsePrometheus from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import { connect } from '../../client/index.js';
import { holdConnections, spawnBroker, type BrokerProcess } from '../e2e/broker-process.js';

const MiB = 1024 * 1024;

async function metric(broker: BrokerProcess, name: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${broker.httpPort}/metrics`)).text();
  const family = parsePrometheus(text).find((f) => f.name === name);
  return family === undefined ? undefined : Number(family.metrics[0]!.value);
}

async function waitFor<T>(
  what: string,
  read: () => Promise<T | undefined>,
  ok: (v: T) => boolean,
): Promise<T> {
  // Read every half second: a scrape is work for the broker, and ten a second would keep it from quiet.
  for (let i = 0; i < 60; i++) {
    const v = await read();
    if (v !== undefined && ok(v)) return v;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`gave up waiting for ${what}`);
}

function listening(broker: BrokerProcess): Record<string, unknown> {
  return broker.logs.find((l) => l.msg === 'felix-ts broker listening')!;
}

/** 48 MiB of 4 KiB cache values put and deleted again: memory the broker allocated and no longer needs. */
async function burst(broker: BrokerProcess): Promise<void> {
  const c = await connect({ broker: `127.0.0.1:${broker.quicPort}`, onWarning: () => {} });
  const value = Buffer.alloc(4096, 7);
  const count = (48 * MiB) / value.length;
  for (const op of ['put', 'delete'] as const) {
    for (let i = 0; i < count; i += 64) {
      const batch = [];
      for (let j = i; j < i + 64; j++)
        batch.push(
          op === 'put'
            ? c.cache.put('default', 'idle', `k${j}`, value)
            : c.cache.delete('default', 'idle', `k${j}`),
        );
      await Promise.all(batch);
    }
  }
  await c.close();
}

describe('idle memory return (broker process)', () => {
  it('after a burst and a quiet period, collects and trims, giving the burst back', async () => {
    const broker = await spawnBroker({ FELIX_IDLE_MEMORY_RETURN_MS: '500' });
    expect(listening(broker).idleMemoryReturn).toMatch(/^after 500 ms quiet \(full GC, malloc_trim\)$/);
    // Whatever start-up itself left may be returned first; the burst's return is the one after it.
    await new Promise((r) => setTimeout(r, 2_000));
    const before = (await metric(broker, 'felix_idle_memory_returns_total')) ?? 0;
    const logged = broker.logs.length;
    await burst(broker);
    const peak = (await metric(broker, 'felix_process_resident_memory_bytes'))!;
    await waitFor(
      'a return',
      () => metric(broker, 'felix_idle_memory_returns_total'),
      (n) => n > before,
    );
    const rss = (await metric(broker, 'felix_process_resident_memory_bytes'))!;
    const line = broker.logs
      .slice(logged)
      .find((l) => l.msg === 'idle: returned memory to the operating system')!;
    console.log(
      `idle return: RSS ${(peak / MiB).toFixed(1)} MiB after the burst -> ${(rss / MiB).toFixed(1)} MiB ` +
        `(logged ${String(line.rssBeforeMiB)} -> ${String(line.rssAfterMiB)}, collection ${String(line.collectMs)} ms, trim ${String(line.trimMsOffLoop)} ms off the loop)`,
    );
    // The 48 MiB of values are garbage after the deletes: most of it leaves the process.
    expect(peak - rss).toBeGreaterThan(24 * MiB);
    expect((await metric(broker, 'felix_idle_memory_returned_bytes_total'))!).toBeGreaterThan(24 * MiB);
    // It gave back plenty, so the next return waits the setting's quiet period, not a backed-off one
    // (test/broker/idle-memory-policy.test.ts drives the back-off).
    expect(line.nextQuietMs).toBe(500);
  });

  it('is off at 0: no return, no metric, and the start line says so', async () => {
    const broker = await spawnBroker({ FELIX_IDLE_MEMORY_RETURN_MS: '0' });
    expect(listening(broker).idleMemoryReturn).toBe('off');
    await burst(broker);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await metric(broker, 'felix_idle_memory_returns_total')).toBeUndefined();
    expect(broker.logs.some((l) => l.msg === 'idle: returned memory to the operating system')).toBe(false);
  });

  // The resident set is read from /proc/self/stat, which cannot be opened while the process is out of
  // descriptors: Linux only.
  it.skipIf(!existsSync('/proc/self/stat'))(
    'warns once, then counts, while its samples fail for want of file descriptors, and goes on after',
    async () => {
      const broker = await spawnBroker({ FELIX_IDLE_MEMORY_RETURN_MS: '500' }, { fileLimit: 64 });
      const failed = (): Record<string, unknown>[] =>
        broker.logs.filter((l) => String(l.msg).startsWith('idle: a memory sample failed'));
      // Idle connections to its HTTP port take every descriptor the broker has left.
      const release = await holdConnections(broker.httpPort, 100);
      // A sample a second fails; the first is logged whole, the rest of the 10 s interval in one line.
      await waitFor(
        'the count of failed samples',
        () => Promise.resolve(failed()),
        (l) => l.length >= 2,
      );
      release();
      const [first, count] = failed();
      expect(first).toMatchObject({
        level: 40,
        msg: 'idle: a memory sample failed; no memory is returned to the operating system while samples fail',
        err: { code: 'EMFILE', message: expect.stringContaining('EMFILE') as unknown },
      });
      expect(count).toMatchObject({ level: 40, code: 'EMFILE', intervalMs: 10_000 });
      expect(count!.more as number).toBeGreaterThanOrEqual(5);
      expect(String(count!.msg)).toMatch(/ \(\d+ more like it since the last line\)$/);
      // The broker carries on: its descriptors back, it answers.
      const returns = await waitFor(
        '/metrics',
        () => metric(broker, 'felix_idle_memory_returns_total'),
        () => true,
      );
      expect(returns).toBeGreaterThanOrEqual(0);
      expect(broker.child.exitCode).toBeNull();
    },
    45_000,
  );
});
