// Issue 12 acceptance: 500 connect / auth / subscribe / publish / close cycles against a broker process
// leave its resident set (VmRSS) within 5 MiB of where it stood after a warm-up. Every reading follows a
// full garbage collection in the broker (a preloaded SIGUSR2 handler), so what is compared is memory
// still held, not garbage awaiting collection.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { churn } from '../../bench/churn/cycle.js';
import { spawnBroker, type BrokerProcess } from '../e2e/broker-process.js';

const GC_ON_SIGNAL = fileURLToPath(new URL('./fixtures/gc-on-signal.mjs', import.meta.url));
// The broker's memory is not at its working level after 100 cycles: V8 still grows its young generation and
// glibc still touches free heap pages it keeps (bench/churn measured +5 to +7 MiB over the next 500 cycles,
// then +0.2 to +0.4 MiB per 100 with in-use malloc memory flat). 300 cycles reach it.
const WARM_UP_CYCLES = 300;
const MEASURED_CYCLES = 500;
const ROUNDS = 5;
// Cycles at once: four clients churning keep the test short on two cores.
const CONCURRENCY = 4;

function rssMiB(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  return kb / 1024;
}

/** Collects the broker's garbage, waits for its allocator to settle, and reads its RSS. */
async function collectedRss(broker: BrokerProcess): Promise<number> {
  const done = (): number => broker.logs.filter((l) => l.msg === 'gc done').length;
  const before = done();
  broker.child.kill('SIGUSR2');
  for (let i = 0; i < 400 && done() === before; i++) await new Promise((r) => setTimeout(r, 10));
  expect(done()).toBe(before + 1);
  let last = rssMiB(broker.child.pid!);
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 200));
    const now = rssMiB(broker.child.pid!);
    if (Math.abs(now - last) < 0.25) return now;
    last = now;
  }
  return last;
}

describe('connection churn', () => {
  it('500 connect/auth/subscribe/publish/close cycles leave broker RSS within 5 MiB of the post-warm-up level', async () => {
    const broker = await spawnBroker({ NODE_OPTIONS: `--expose-gc --import ${GC_ON_SIGNAL}` });
    expect(await churn(broker.quicPort, 0, WARM_UP_CYCLES, CONCURRENCY)).toBe(WARM_UP_CYCLES);
    const start = await collectedRss(broker);
    const readings: number[] = [];
    let delivered = 0;
    const perRound = MEASURED_CYCLES / ROUNDS;
    for (let round = 0; round < ROUNDS; round++) {
      delivered += await churn(broker.quicPort, WARM_UP_CYCLES + round * perRound, perRound, CONCURRENCY);
      readings.push(await collectedRss(broker));
    }
    console.log(
      `churn: broker RSS after ${WARM_UP_CYCLES} warm-up cycles ${start.toFixed(1)} MiB, after each ${perRound} more: ` +
        readings.map((r) => r.toFixed(1)).join(', ') +
        // The heap figures of each collection, to tell JS heap growth from native growth.
        `; after each collection (heapUsed/external/arrayBuffers MiB): ` +
        broker.logs
          .filter((l) => l.msg === 'gc done')
          .map((l) =>
            [l.heapUsed, l.external, l.arrayBuffers].map((b) => (Number(b) / 2 ** 20).toFixed(1)).join('/'),
          )
          .join(', '),
    );
    expect(delivered).toBe(MEASURED_CYCLES);
    // Measured +0.2 to +1.1 MiB (docs/benchmarks.md, "Connection churn"): what is left is allocator and
    // young-generation settling, with in-use malloc memory flat. The issue measured ~35 MiB before.
    expect(readings.at(-1)! - start).toBeLessThan(5);
  }, 120_000);
});
