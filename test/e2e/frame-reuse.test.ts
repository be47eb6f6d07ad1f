// The SDK reuses the buffers of answered request frames (client/frame-recycler.ts). A buffer reused while
// its bytes still waited to be sent would corrupt what the broker stores or delivers, so many large
// requests are kept in flight at once and everything is read back byte for byte.
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { FelixEvent } from '../../client/index.js';
import { client, eventually, startBroker } from './sdk-harness.js';

const digest = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
// Small receive windows at the broker: the client's frames wait in its transport, written by reference,
// for most of their time in flight (where a buffer reused too early would be overwritten).
const narrowWindows = { brokerConnRecvWindow: 128 * 1024, brokerStreamRecvWindow: 32 * 1024 };

describe('request frames reused once answered', () => {
  it('stores every cache value intact with many large puts in flight', async () => {
    const broker = await startBroker(narrowWindows);
    const c = await client(broker, { cacheConnPool: 2, cacheStreamsPerConn: 2 });
    const latest = new Map<string, Buffer>();
    // 64 lanes, each putting as soon as its last put is answered, values of 4–70 KiB (every size class):
    // new frames are made while others still wait to be sent.
    let next = 0;
    const lane = async (): Promise<void> => {
      for (let n = next++; n < 900; n = next++) {
        const value = randomBytes(4096 + ((n * 7919) % (66 * 1024)));
        latest.set(`k${n}`, value);
        await c.cache.put('default', 'reuse', `k${n}`, value);
      }
    };
    await Promise.all(Array.from({ length: 64 }, lane));
    const values = await Promise.all([...latest.keys()].map((key) => c.cache.get('default', 'reuse', key)));
    expect(values.map((v) => (v === undefined ? 'missing' : digest(v)))).toEqual(
      [...latest.values()].map(digest),
    );
  });

  it('delivers every acked publish intact with many large batches in flight', async () => {
    const broker = await startBroker(narrowWindows);
    const c = await client(broker, { pubConnPool: 1, pubStreamsPerConn: 1 });
    const events: FelixEvent[] = [];
    await c.subscribe('reuse', { onEvent: (e) => events.push(e) });
    // 8 lanes publishing a batch of 16 payloads of 4–8 KiB as soon as their last one is acked.
    const sent: Buffer[] = [];
    let next = 0;
    const lane = async (): Promise<void> => {
      for (let n = next++; n < 80; n = next++) {
        const batch = Array.from({ length: 16 }, (_, i) => randomBytes(4096 + ((n + i) % 5) * 1000));
        sent.push(...batch);
        await c.publishBatch('reuse', batch);
      }
    };
    await Promise.all(Array.from({ length: 8 }, lane));
    await eventually(() => events.length === sent.length, 'every event');
    expect(events.map((e) => digest(e.payload))).toEqual(sent.map(digest));
  });
});
