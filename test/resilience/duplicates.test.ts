// Issue 12 (d): a publish resent with the same producer id and sequence — as the SDK resends what was in
// flight after a reconnect, on a new connection — is acknowledged each time and delivered once: raw
// protocol clients against the broker process, with the very frames the SDK encodes; then the SDK itself,
// its connection cut between the broker's append and its ack.
import { describe, expect, it } from 'vitest';
import { negotiate } from '../../client/negotiation.js';
import { encodePublishFrame, type PublishTarget } from '../../client/publish-encoding.js';
import { KNOWN_FEATURES, KNOWN_FLAGS } from '../../wire/index.js';
import { ProducerState } from '../../broker/core/producer-dedup.js';
import { RawStream, connectRaw, eventStreams, eventTexts, until } from '../broker/raw-client.js';
import { spawnBroker } from '../e2e/broker-process.js';
import { startBroker } from '../e2e/sdk-harness.js';
import { Timeline, client, eventually } from './harness.js';

const target: PublishTarget = {
  tenant: 't1',
  namespace: 'ns',
  stream: 'dup',
  hash: 0,
  what: 'publish to t1/ns/dup',
};

describe('duplicate suppression against the broker process', () => {
  it.each([
    // TIMINGS rides along on the binary form (0x80), as the SDK sends it.
    ['binary batches (flags 0x0109)', KNOWN_FLAGS, 0x0189],
    ['MessagePack messages', KNOWN_FLAGS & ~0x01, 0x40],
    ['JSON messages', 0x06, 0x00],
  ])(
    'acks a publish resent with the same producer and sequence again, and delivers it once: %s',
    async (_what, flags, frameFlags) => {
      const broker = await spawnBroker();
      const process = { quicAddress: { port: broker.quicPort } };
      const negotiated = negotiate({ type: 'auth_ok', server_flags: flags, server_features: KNOWN_FEATURES });
      const producer = 4_503_599_627_370_497; // 2^52 + 1
      const frame = (text: string, requestId: number, sequence: number): Buffer =>
        encodePublishFrame(
          target,
          [Buffer.from(text)],
          'per_message',
          requestId,
          negotiated,
          1 << 20,
          producer,
          sequence,
        );

      expect(frame('x', 1, 1).readUInt16BE(6)).toBe(frameFlags);

      const subscriber = await connectRaw(process);
      const byId = eventStreams(subscriber);
      const control = await RawStream.open(subscriber);
      control.send({
        type: 'subscribe',
        tenant_id: 't1',
        namespace: 'ns',
        stream: 'dup',
        subscription_id: 1,
        start: 'earliest',
      });
      expect(await control.next()).toMatchObject({ type: 'subscribed' });

      // First connection: three publishes, all acked.
      const first = await RawStream.open(await connectRaw(process), { client_flags: flags });
      for (const [i, text] of ['a', 'b', 'c'].entries()) first.write(frame(text, i + 1, i + 1));
      for (let i = 1; i <= 3; i++)
        expect(await first.next()).toMatchObject({ type: 'publish_ok', request_id: i });

      // The "reconnected" producer: the same frames again on a new connection, then a new one.
      const second = await RawStream.open(await connectRaw(process), { client_flags: flags });
      for (const [i, text] of ['a', 'b', 'c'].entries()) second.write(frame(text, i + 1, i + 1));
      second.write(frame('d', 4, 4));
      for (let i = 1; i <= 4; i++)
        expect(await second.next()).toMatchObject({ type: 'publish_ok', request_id: i });

      await until(() => byId.has(1) && eventTexts(byId.get(1)!).includes('d'), 'the new publish');
      expect(eventTexts(byId.get(1)!)).toEqual(['a', 'b', 'c', 'd']);
    },
    30_000,
  );
});

describe('duplicate suppression through the SDK', () => {
  it('a publish whose ack was lost with the connection is resent after the reconnect, acked once, delivered once', async () => {
    // In-process broker, so the test can cut every connection at the one moment that matters: right after
    // the broker appended the publish and before its ack left.
    const node = await startBroker();
    const timeline = new Timeline();
    const c = await client(`127.0.0.1:${node.quicAddress.port}`, {
      reconnectInitialMs: 20,
      reconnectMaxMs: 100,
      pubConnPool: 1,
      pubStreamsPerConn: 1,
      eventConnPool: 1,
    });
    timeline.follow(c);
    await c.subscribe('lost-ack', { start: 'earliest', onEvent: timeline.onEvent });
    await c.publish('lost-ack', 'first');

    const sessions = (
      node as unknown as { sessions: Map<{ close(code: number, reason: string): void }, unknown> }
    ).sessions;
    const add = ProducerState.prototype.add;
    let cut = 0;
    ProducerState.prototype.add = function (this: ProducerState, sequence: number): void {
      add.call(this, sequence);
      if (cut++ === 0) for (const connection of sessions.keys()) connection.close(0, 'cut before the ack');
    };
    try {
      await c.publish('lost-ack', 'second');
    } finally {
      ProducerState.prototype.add = add;
    }
    await c.publish('lost-ack', 'third');
    await eventually(() => timeline.delivered.includes('third'), 'the publish after the reconnect');

    expect(cut).toBe(1);
    expect(node.stats.duplicatePublishes).toBe(1);
    expect(timeline.delivered).toEqual(['first', 'second', 'third']);
    const publish = timeline.statuses('publish', 0).map((e) => e.type);
    expect(publish[0]).toBe('disconnect');
    expect(publish.at(-1)).toBe('reconnect');
  }, 30_000);
});
