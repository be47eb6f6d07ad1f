// Per-hop timings end to end over real QUIC: stamps are ordered, the hops add up to the end-to-end figure,
// nothing is stamped when timings are off, and /metrics exposes the broker's hop histograms.
import parsePrometheus from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import type { BrokerNode } from '../../broker/node.js';
import { connect, type FelixClient } from '../../client/index.js';
import {
  EVENT_STAMP_BYTES,
  KNOWN_FLAGS,
  FLAG_TIMINGS,
  WireError,
  encodeBinaryPublishBatch,
  encodeSharedEventBatch,
  monotonicNs,
  type BinaryEventBatch,
} from '../../wire/index.js';
import { RawStream, connectRaw, eventStreams, startBroker, until } from '../broker/raw-client.js';

/** Event frames received on `stream` as (frame size, decoded batch, receipt stamp). */
function captureFrames(raw: RawStream): { size: number; batch: BinaryEventBatch; receivedNs: number }[] {
  const seen: { size: number; batch: BinaryEventBatch; receivedNs: number }[] = [];
  const original = raw.stream.onData!;
  let sizeSoFar = 0;
  raw.stream.onData = (chunk, fin) => {
    sizeSoFar += chunk.length;
    const before = raw.frames.length;
    original(chunk, fin);
    const now = monotonicNs();
    for (let i = before; i < raw.frames.length; i++) {
      const f = raw.frames[i]!;
      if (!(f instanceof WireError) && f.type === 'binary_event_batch')
        seen.push({ size: sizeSoFar, batch: f, receivedNs: now });
    }
  };
  return seen;
}

async function subscribeRaw(
  port: number,
  clientFlags: number,
): Promise<{ pub: RawStream; events: RawStream }> {
  const conn = await connectRaw({ quicAddress: { port } });
  const byId = eventStreams(conn);
  const control = await RawStream.open(conn, { client_flags: clientFlags });
  control.send({ type: 'subscribe', tenant_id: 't1', namespace: 'ns', stream: 'hops', subscription_id: 1 });
  await control.next();
  await until(() => byId.has(1), 'the event stream');
  const pub = await RawStream.open(conn, { client_flags: clientFlags });
  return { pub, events: byId.get(1)! };
}

const PAYLOAD = Buffer.alloc(100, 7);

/** An SDK client of `node` with the defaults (timings on), whatever this process's FELIX_* variables. */
function sdkClient(node: BrokerNode): Promise<FelixClient> {
  return connect({ broker: `127.0.0.1:${node.quicAddress.port}`, env: {}, onWarning: () => undefined });
}

describe('per-hop timings', () => {
  it('stamps every hop in order, and the hops add up to the end-to-end time', async () => {
    const node = await startBroker({ FELIX_FANOUT_BATCH: '1' });
    const { pub, events } = await subscribeRaw(node.quicAddress.port, KNOWN_FLAGS);
    const frames = captureFrames(events);
    for (let i = 0; i < 20; i++) {
      const sendNs = monotonicNs();
      pub.write(
        encodeBinaryPublishBatch({
          tenant_id: 't1',
          namespace: 'ns',
          stream: 'hops',
          payloads: [PAYLOAD],
          send_ns: sendNs,
        }),
      );
      await until(() => frames.length > i, 'the event');
    }
    for (const { batch, receivedNs } of frames) {
      const s = batch.stamps!;
      // Strictly increasing: two hops in one loop turn still get distinct stamps.
      expect(s.send_ns).toBeLessThan(s.decode_ns);
      expect(s.decode_ns).toBeLessThan(s.enqueue_ns);
      expect(s.enqueue_ns).toBeLessThan(s.write_ns);
      expect(s.write_ns).toBeLessThan(receivedNs);
      const hops = [
        s.decode_ns - s.send_ns,
        s.enqueue_ns - s.decode_ns,
        s.write_ns - s.enqueue_ns,
        receivedNs - s.write_ns,
      ];
      expect(hops.reduce((a, b) => a + b, 0)).toBe(receivedNs - s.send_ns);
    }
  });

  it('sends no stamp byte when the client does not want timings, or the broker has them off', async () => {
    for (const [env, flags] of [
      [{}, KNOWN_FLAGS & ~FLAG_TIMINGS],
      [{ FELIX_DISABLE_TIMINGS: '1' }, KNOWN_FLAGS],
    ] as const) {
      const node = await startBroker({ FELIX_FANOUT_BATCH: '1', ...env });
      const { pub, events } = await subscribeRaw(node.quicAddress.port, flags);
      const frames = captureFrames(events);
      pub.write(
        encodeBinaryPublishBatch({ tenant_id: 't1', namespace: 'ns', stream: 'hops', payloads: [PAYLOAD] }),
      );
      await until(() => frames.length === 1, 'the event');
      expect(frames[0]!.batch.stamps).toBeUndefined();
    }
    // And with timings on, the same event costs exactly the stamp block more.
    const node = await startBroker({ FELIX_FANOUT_BATCH: '1' });
    const { pub, events } = await subscribeRaw(node.quicAddress.port, KNOWN_FLAGS);
    let bytes = 0;
    const original = events.stream.onData!;
    events.stream.onData = (chunk, fin) => {
      bytes += chunk.length;
      original(chunk, fin);
    };
    // Only the hello arrived before counting started.
    expect(events.frames).toHaveLength(1);
    pub.write(
      encodeBinaryPublishBatch({
        tenant_id: 't1',
        namespace: 'ns',
        stream: 'hops',
        payloads: [PAYLOAD],
        send_ns: monotonicNs(),
      }),
    );
    await until(() => events.frames.length === 2, 'the event');
    expect(bytes).toBe(encodeSharedEventBatch([PAYLOAD], 0).length + EVENT_STAMP_BYTES);
  });

  it('stamps each timed subscriber in place and leaves the shared frame intact for plain ones and for replay', async () => {
    const node = await startBroker({ FELIX_FANOUT_BATCH: '4' });
    const conn = await connectRaw({ quicAddress: { port: node.quicAddress.port } });
    const byId = eventStreams(conn);
    const subscribe = async (id: number, flags: number, start?: { offset: number }): Promise<RawStream> => {
      const control = await RawStream.open(conn, { client_flags: flags });
      control.send({
        type: 'subscribe',
        tenant_id: 't1',
        namespace: 'ns',
        stream: 'mix',
        subscription_id: id,
        start,
      });
      await control.next();
      await until(() => byId.has(id), `event stream ${id}`);
      return byId.get(id)!;
    };
    const timedA = await subscribe(1, KNOWN_FLAGS);
    const plain = await subscribe(2, KNOWN_FLAGS & ~FLAG_TIMINGS);
    const timedB = await subscribe(3, KNOWN_FLAGS);
    const pub = await RawStream.open(conn, { client_flags: KNOWN_FLAGS });
    const payloads = Array.from({ length: 40 }, (_, i) => Buffer.alloc(50 + i, i));
    const publish = (from: number, to: number): void => {
      for (let i = from; i < to; i += 4)
        pub.write(
          encodeBinaryPublishBatch({
            tenant_id: 't1',
            namespace: 'ns',
            stream: 'mix',
            payloads: payloads.slice(i, i + 4),
            send_ns: monotonicNs(),
          }),
        );
    };
    const batches = (raw: RawStream): BinaryEventBatch[] =>
      raw.frames.filter(
        (f): f is BinaryEventBatch => !(f instanceof WireError) && f.type === 'binary_event_batch',
      );
    const events = (raw: RawStream): Buffer[] =>
      batches(raw).flatMap((b) => b.payloads.map((p) => Buffer.from(p)));
    publish(0, 20);
    for (const raw of [timedA, plain, timedB]) await until(() => events(raw).length === 20, 'twenty events');
    // A late subscriber replays the history (plain: its queueing was no hop), then gets live events stamped.
    const late = await subscribe(4, KNOWN_FLAGS, { offset: 0 });
    await until(() => events(late).length === 20, 'the replay');
    publish(20, 40);
    for (const raw of [timedA, plain, timedB, late]) {
      await until(() => events(raw).length === 40, 'forty events');
      expect(events(raw)).toEqual(payloads);
      expect(raw.frames.filter((f) => f instanceof WireError)).toEqual([]);
    }
    expect(batches(plain).every((b) => b.stamps === undefined)).toBe(true);
    for (const raw of [timedA, timedB]) {
      for (const b of batches(raw)) {
        expect(b.stamps!.decode_ns).toBeLessThan(b.stamps!.enqueue_ns);
        expect(b.stamps!.enqueue_ns).toBeLessThan(b.stamps!.write_ns);
      }
    }
    // Each subscriber's write stamp is its own.
    expect(batches(timedA)[0]!.stamps!.write_ns).not.toBe(batches(timedB)[0]!.stamps!.write_ns);
    const lateBatches = batches(late);
    expect(lateBatches.filter((b) => b.stamps === undefined).length).toBeGreaterThan(0);
    expect(lateBatches.at(-1)!.stamps).toBeDefined();
  });

  it('exposes the broker hop histograms at /metrics and per-subscription hop statistics in the SDK', async () => {
    const node = await startBroker({ FELIX_FANOUT_BATCH: '1' });
    const client = await sdkClient(node);
    try {
      let got = 0;
      const sub = await client.subscribe('hops', { onEvent: () => got++ });
      for (let i = 0; i < 50; i++) await client.publish('hops', PAYLOAD);
      await until(() => got === 50, 'fifty events');
      const stats = sub.hopStats()!;
      for (const hop of [
        'publish_to_broker',
        'decode_to_enqueue',
        'queue',
        'broker_to_subscriber',
        'end_to_end',
      ] as const) {
        expect(stats[hop].count, hop).toBe(50);
        expect(stats[hop].p50_us).toBeLessThanOrEqual(stats[hop].p99_us);
      }
      const res = await fetch(`http://127.0.0.1:${node.httpAddress.port}/metrics`);
      const families = parsePrometheus(await res.text());
      const quantiles = families.find((f) => f.name === 'felix_hop_latency_microseconds')!;
      const hops = new Set(quantiles.metrics.map((m) => m.labels?.hop));
      expect([...hops].sort()).toEqual(['decode_to_enqueue', 'publish_to_broker', 'queue']);
      const samples = families.find((f) => f.name === 'felix_hop_samples_total')!;
      for (const m of samples.metrics) expect(Number(m.value), m.labels?.hop).toBeGreaterThanOrEqual(50);
    } finally {
      await client.close();
    }
  });

  // docs/metrics.md ("Per-hop timings") and docs/benchmarks.md (`timings`): a sample is an event batch, not
  // an event; the broker's queue hop is counted per subscriber; a batch begun in the middle of a publish
  // carries no send stamp.
  it('counts event batches, not events: per subscriber for the queue hop, without a send stamp mid-publish', async () => {
    const node = await startBroker({ FELIX_FANOUT_BATCH: '8' });
    const client = await sdkClient(node);
    try {
      let got = 0;
      const subs = [
        await client.subscribe('counted', { onEvent: () => got++ }),
        await client.subscribe('counted', { onEvent: () => got++ }),
      ];
      // Five publishes of 8 events: a batch each (FELIX_FANOUT_BATCH 8 cuts at 8).
      for (let i = 0; i < 5; i++) await client.publishBatch('counted', Array<Buffer>(8).fill(PAYLOAD));
      // Then 12 events in one publish: cut into a batch of 8 and one of 4, the second begun mid-publish.
      await client.publishBatch('counted', Array<Buffer>(12).fill(PAYLOAD));
      await until(() => got === 2 * 52, 'every event at both subscribers');
      for (const sub of subs) {
        const stats = sub.hopStats()!;
        expect(stats.decode_to_enqueue.count).toBe(7);
        expect(stats.queue.count).toBe(7);
        expect(stats.broker_to_subscriber.count).toBe(7);
        expect(stats.publish_to_broker.count).toBe(6);
        expect(stats.end_to_end.count).toBe(6);
      }
      const res = await fetch(`http://127.0.0.1:${node.httpAddress.port}/metrics`);
      const samples = parsePrometheus(await res.text()).find((f) => f.name === 'felix_hop_samples_total')!;
      const byHop = Object.fromEntries(samples.metrics.map((m) => [m.labels!.hop, Number(m.value)]));
      expect(byHop).toEqual({ publish_to_broker: 6, decode_to_enqueue: 7, queue: 14 });
    } finally {
      await client.close();
    }
  });
});
