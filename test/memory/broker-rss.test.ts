// What clients can make a broker process hold, measured as its resident set (VmRSS) from another process:
// the cache's byte cap with long TTLs, many auto-created streams, half-sent frames on many streams and a
// stream's replay ring. The envelopes are stated in docs/benchmarks.md ("Memory bounds"); each case prints
// what it measured.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { connect } from '../../client/index.js';
import { Endpoint } from '../../transport/index.js';
import { HEADER_BYTES, KNOWN_FEATURES, encodeJsonMessage, writeFrameHeader } from '../../wire/index.js';
import { spawnBroker, type BrokerProcess } from '../e2e/broker-process.js';

const MiB = 1024 * 1024;

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]);
  return kb / 1024;
}

/** RSS once it stops moving (the broker's GC and allocator settle after a load). */
async function settledRss(broker: BrokerProcess): Promise<number> {
  let last = rssMiB(broker.child.pid!);
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 250));
    const now = rssMiB(broker.child.pid!);
    if (Math.abs(now - last) < 1) return now;
    last = now;
  }
  return last;
}

function client(broker: BrokerProcess, extra: Record<string, unknown> = {}) {
  return connect({ broker: `127.0.0.1:${broker.quicPort}`, onWarning: () => {}, ...extra });
}

describe('broker memory bounds (RSS of a broker process)', () => {
  it('the cache stays near FELIX_CACHE_MAX_BYTES with hour-long TTLs, four times over', async () => {
    const broker = await spawnBroker({ FELIX_CACHE_MAX_BYTES: String(64 * MiB) });
    const c = await client(broker);
    const value = Buffer.alloc(4096, 7);
    for (let i = 0; i < 1000; i++) await c.cache.put('default', 'warm', `k${i}`, value, { ttlMs: 3_600_000 });
    const before = await settledRss(broker);
    // 256 MiB of distinct keys, each with a 1 h TTL, into a 64 MiB cache: 32 in flight at a time.
    const total = (256 * MiB) / value.length;
    for (let i = 0; i < total; i += 32) {
      const batch = [];
      for (let j = i; j < i + 32; j++)
        batch.push(c.cache.put('default', 'c', `key-${j}`, value, { ttlMs: 3_600_000 }));
      await Promise.all(batch);
    }
    const after = await settledRss(broker);
    console.log(
      `memory: cache 256 MiB of TTL puts under a 64 MiB cap: RSS ${before.toFixed(0)} -> ${after.toFixed(0)} MiB`,
    );
    await c.close();
    // The cap (64 MiB) plus what the heap and allocator keep around it after churning 256 MiB of values
    // (+144 to +159 MiB measured, alone and beside the suite).
    expect(after - before).toBeLessThan(64 + 128);
  });

  it('100k auto-created streams cost a bounded amount each', async () => {
    const broker = await spawnBroker({ FELIX_MAX_AUTO_STREAMS_PER_TENANT: '200000' });
    const c = await client(broker, { pubConnPool: 1, pubStreamsPerConn: 1 });
    await c.publish('warm', 'x');
    const before = await settledRss(broker);
    const streams = 100_000;
    for (let i = 0; i < streams; i += 100) {
      const batch = [];
      for (let j = i; j < i + 100; j++)
        batch.push(c.publish(`s-${j}`, 'one event of 64 bytes.........................................'));
      await Promise.all(batch);
    }
    const after = await settledRss(broker);
    const perStream = ((after - before) * MiB) / streams;
    console.log(
      `memory: ${streams} auto-created streams with one event each: RSS ${before.toFixed(0)} -> ${after.toFixed(0)} MiB, ${(perStream / 1024).toFixed(2)} KiB per stream`,
    );
    await c.close();
    expect(perStream).toBeLessThan(8 * 1024);
  });

  it('half-sent frames on many streams hold about the per-connection bound, and no more round after round', async () => {
    const broker = await spawnBroker({});
    const before = await settledRss(broker);
    // 16 streams each announce a 16 MiB frame and send 15 MiB of it: 240 MiB unbounded, 64 MiB allowed per
    // connection (FELIX_CONN_PARTIAL_FRAME_BYTES). Three rounds, each on a new connection that then closes.
    const piece = Buffer.alloc(MiB, 0x20);
    const header = Buffer.alloc(HEADER_BYTES);
    writeFrameHeader(header, 0, 0, 16 * MiB);
    const rounds: { holding: number; closed: number }[] = [];
    for (let round = 0; round < 3; round++) {
      const endpoint = await Endpoint.client({ host: '127.0.0.1', port: broker.quicPort });
      const conn = await endpoint.connect();
      for (let i = 0; i < 16; i++) {
        const s = conn.openStream(true);
        s.onData = () => {};
        s.write(
          encodeJsonMessage({
            type: 'auth',
            tenant_id: 't1',
            token: '',
            client_flags: 0x3f,
            client_features: KNOWN_FEATURES,
          }),
        );
        s.write(Buffer.from(header));
        for (let m = 0; m < 15; m++) s.write(piece);
      }
      await new Promise((r) => setTimeout(r, 1500));
      const holding = await settledRss(broker);
      await endpoint.close({ timeoutMs: 200 });
      await new Promise((r) => setTimeout(r, 500));
      rounds.push({ holding, closed: await settledRss(broker) });
    }
    console.log(
      `memory: 16 streams × 15 MiB of unfinished frames, 3 rounds: RSS ${before.toFixed(0)} MiB before, ` +
        rounds.map((r) => `${r.holding.toFixed(0)} holding / ${r.closed.toFixed(0)} closed`).join(', '),
    );
    // The 64 MiB bound, plus the garbage of the decoder's buffers growing by doubling (up to about the
    // same again) until the broker's next collection.
    for (const r of rounds) expect(r.holding - before).toBeLessThan(64 + 160);
    // Nothing accumulates: once the garbage of one earlier round is in the picture (round 2), round 3 holds
    // about one more round's bound (64 MiB) of garbage awaiting collection at most — measured +18 to +52
    // beside a loaded machine, and past 64 when a collection came late on a loaded CI host; an accumulating
    // leak adds the whole 240 MiB a round sends, so half of that is the line. Round 1 alone can sit lower,
    // with no earlier round's garbage awaiting collection.
    expect(rounds[2]!.holding - rounds[1]!.holding).toBeLessThan(120);
  });

  it('a stream with no subscriber holds about its replay ring (FELIX_STREAM_REPLAY_CAPACITY), not more', async () => {
    // 1,024 events of 64 KiB (the default capacity): a 64 MiB ring. 512 MiB is published to stream a, which
    // fills its ring and brings the heap and allocator to where this traffic keeps them; then 512 MiB to
    // stream b, whose ring is what that adds. No subscriber on either. V8's own heap growth: what is
    // measured is what the ring holds, not how much garbage FELIX_HEAP_GROWING_PERCENT lets the heap carry
    // before its next full collection (the default adds ~10 MiB here: 103 and 107 against 84 and 95 MiB
    // alone; docs/benchmarks.md, "Heap growth"). Nor what an idle memory return gave back between the two
    // readings (FELIX_IDLE_MEMORY_RETURN_MS), which would make the first one lower.
    const broker = await spawnBroker({
      FELIX_STREAM_REPLAY_CAPACITY: '1024',
      FELIX_HEAP_GROWING_PERCENT: '0',
      FELIX_IDLE_MEMORY_RETURN_MS: '0',
    });
    const c = await client(broker);
    const payload = Buffer.alloc(64 * 1024, 7);
    const nominal = (1024 * payload.length) / MiB;
    const batch = [payload, payload, payload, payload];
    async function publish512MiB(stream: string): Promise<void> {
      for (let sent = 0; sent < 512 * MiB; sent += 8 * batch.length * payload.length) {
        const inFlight = [];
        for (let k = 0; k < 8; k++) inFlight.push(c.publishBatch(stream, batch));
        await Promise.all(inFlight);
      }
    }
    const before = await settledRss(broker);
    await publish512MiB('a');
    const oneRing = await settledRss(broker);
    await publish512MiB('b');
    const twoRings = await settledRss(broker);
    console.log(
      `memory: 512 MiB of 64 KiB events to each of two streams (${nominal} MiB rings), no subscriber: RSS ` +
        `${before.toFixed(0)} -> ${oneRing.toFixed(0)} -> ${twoRings.toFixed(0)} MiB: the second ring costs ` +
        `${(twoRings - oneRing).toFixed(0)} MiB`,
    );
    await c.close();
    // The envelope (docs/benchmarks.md): 1.5 × nominal, the ring's frames being views into the batch
    // builder's slabs, each at least 3/4 used (85.5 MiB of slabs here), plus 16 MiB of RSS spread (84 to 94 MiB
    // measured). Before evicted frames were let go at once, up to 1,024 of them kept their slabs alive: 161 MiB.
    expect(twoRings - oneRing).toBeLessThan(1.5 * nominal + 16);
  });

  it('large events: a stream holds about FELIX_STREAM_REPLAY_MAX_BYTES, not its capacity in events', async () => {
    // 1 MiB events: 1,024 of them (the default capacity) would be a 1 GiB ring per stream; the byte bound
    // (64 MiB by default) keeps the newest that fit. 512 MiB to stream a, then to stream b, no subscriber.
    const broker = await spawnBroker({ FELIX_HEAP_GROWING_PERCENT: '0' });
    const c = await client(broker);
    const payload = Buffer.alloc(MiB - 4096, 7);
    async function publish512(stream: string): Promise<void> {
      for (let sent = 0; sent < 512; sent += 8) {
        const inFlight = [];
        for (let k = 0; k < 8; k++) inFlight.push(c.publish(stream, payload));
        await Promise.all(inFlight);
      }
    }
    const before = await settledRss(broker);
    await publish512('a');
    const oneRing = await settledRss(broker);
    await publish512('b');
    const twoRings = await settledRss(broker);
    console.log(
      `memory: 512 events of 1 MiB to each of two streams (64 MiB byte bound), no subscriber: RSS ` +
        `${before.toFixed(0)} -> ${oneRing.toFixed(0)} -> ${twoRings.toFixed(0)} MiB: the second ring costs ` +
        `${(twoRings - oneRing).toFixed(0)} MiB`,
    );
    await c.close();
    // The bound and what the allocator keeps of 1 MiB buffers freed around it: 109 MiB measured beside the
    // suite; 512 MiB and more without the bound (FELIX_STREAM_REPLAY_MAX_BYTES=0).
    expect(twoRings - oneRing).toBeLessThan(2 * 64 + 32);
  });
});
