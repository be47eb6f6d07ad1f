// Issue 16 (scope 6): size errors say what they are, and the documented name rules hold on every path.
// Over real QUIC on loopback: the SDK against an in-process broker, and the raw client for frames the SDK
// never sends (a whole, unchunked publish just over the largest message; an unacked refusal).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connect, type FelixClient } from '../../client/index.js';
import { allocateFrame, encodeBinaryPublishBatch } from '../../wire/index.js';
import { connectRaw, RawStream, startBroker, until } from '../broker/raw-client.js';
import { eventually, failure, metric } from './sdk-harness.js';

const MiB = 1024 * 1024;
/** FELIX_MAX_FRAME_BYTES (16 MiB) less the 1 KiB kept for an event's envelope. */
const LARGEST_DEFAULT = 16 * MiB - 1024;

async function client(port: number, warnings: string[] = []): Promise<FelixClient> {
  const c = await connect({ broker: `127.0.0.1:${port}`, env: {}, onWarning: (w) => warnings.push(w) });
  return c;
}

describe('the largest message', () => {
  it('refuses a 20 MiB publish with payload_too_large naming the limit, delivers the largest one, and goes on', async () => {
    const node = await startBroker();
    const warnings: string[] = [];
    const c = await client(node.quicAddress.port, warnings);
    try {
      const sizes: number[] = [];
      await c.subscribe('big', { onEvent: (e) => sizes.push(e.payload.length) });

      const refused = await failure(c.publish('big', Buffer.alloc(20 * MiB)));
      expect(refused.code).toBe('publish_rejected');
      expect(refused.brokerCode).toBe('payload_too_large');
      expect(refused.message).toContain(`message of ${20 * MiB} bytes`);
      expect(refused.message).toContain(`${LARGEST_DEFAULT} bytes`);
      expect(refused.message).toContain('FELIX_MAX_FRAME_BYTES');
      // One byte over is refused the same way; the largest itself goes through and reaches the subscriber.
      expect((await failure(c.publish('big', Buffer.alloc(LARGEST_DEFAULT + 1)))).brokerCode).toBe(
        'payload_too_large',
      );
      await c.publish('big', Buffer.alloc(LARGEST_DEFAULT, 7));
      await until(() => sizes.length === 1, 'the largest message delivered');
      expect(sizes).toEqual([LARGEST_DEFAULT]);
      // The connection goes on publishing.
      await c.publish('other', 'small, after');
      // The refused publishes' later pieces were dropped quietly: no error per piece reached the client.
      expect(warnings.filter((w) => !w.includes('FELIX_TLS_CA'))).toEqual([]);
      expect(node.stats.publishErrors).toBe(2);
    } finally {
      await c.close();
    }
  });

  it('refuses a whole publish frame within the frame limit whose payload is over the largest message', async () => {
    const node = await startBroker({
      FELIX_MAX_FRAME_BYTES: '65536',
      FELIX_CACHE_MAX_VALUE_BYTES: '32768',
      FELIX_EVENT_BATCH_MAX_BYTES: '16384',
    });
    const s = await RawStream.open(await connectRaw(node));
    // One byte over 64 KiB − 1 KiB: it fits a frame only in a binary batch, which carries payloads raw.
    const payload = Buffer.alloc(65536 - 1024 + 1);
    s.write(
      encodeBinaryPublishBatch({
        tenant_id: 't1',
        namespace: 'ns',
        stream: 'raw',
        payloads: [payload],
        request_id: 9,
        ack: 'per_message',
      }),
    );
    expect(await s.next()).toMatchObject({
      type: 'publish_error',
      request_id: 9,
      code: 'payload_too_large',
      message: expect.stringContaining(`${65536 - 1024} bytes (FELIX_MAX_FRAME_BYTES 65536`),
    });
    // The stream carries on.
    s.send({
      type: 'publish',
      tenant_id: 't1',
      namespace: 'ns',
      stream: 'raw',
      payload: Buffer.from('fine'),
      request_id: 10,
      ack: 'per_message',
    });
    expect(await s.next()).toEqual({ type: 'publish_ok', request_id: 10 });
  });
});

describe('a broker with smaller frames than the client', () => {
  it('is told the limit in auth_ok: a publish or put too large for it is refused with payload_too_large, not timed out', async () => {
    const node = await startBroker({
      FELIX_MAX_FRAME_BYTES: '65536',
      FELIX_CACHE_MAX_VALUE_BYTES: '32768',
      FELIX_EVENT_BATCH_MAX_BYTES: '16384',
    });
    const warnings: string[] = [];
    // The client on its defaults (16 MiB frames); a timeout well inside the test's.
    const c = await connect({
      broker: `127.0.0.1:${node.quicAddress.port}`,
      env: {},
      requestTimeoutMs: 20_000,
      onWarning: (w) => warnings.push(w),
    });
    try {
      const sizes: number[] = [];
      await c.subscribe('fit', { onEvent: (e) => sizes.push(e.payload.length) });
      const publish = await failure(c.publish('fit', Buffer.alloc(200 * 1024)));
      expect([publish.code, publish.brokerCode]).toEqual(['publish_rejected', 'payload_too_large']);
      const put = await failure(c.cache.put('default', 'c', 'k', Buffer.alloc(100 * 1024)));
      expect(put.code).toBe('payload_too_large');
      // Below the broker's largest message (64 KiB − 1 KiB) a payload goes through, whole or chunked.
      await c.publish('fit', Buffer.alloc(60 * 1024, 1));
      await c.publishBatch('fit', [Buffer.alloc(30 * 1024), Buffer.alloc(30 * 1024)]);
      await until(() => sizes.length === 3, 'the three payloads delivered');
      expect(sizes).toEqual([60 * 1024, 30 * 1024, 30 * 1024]);
      expect(warnings.filter((w) => w.includes('limit_exceeded'))).toEqual([]);
    } finally {
      await c.close();
    }
  });
});

describe('a stream the broker ends', () => {
  it('fails the requests it takes down with the reason the broker gave first', async () => {
    const node = await startBroker({
      FELIX_PARTIAL_FRAME_BYTES: String(1024 * 1024),
      FELIX_CONN_PARTIAL_FRAME_BYTES: String(1024 * 1024),
      FELIX_MAX_FRAME_BYTES: String(1024 * 1024),
      FELIX_CACHE_MAX_VALUE_BYTES: String(256 * 1024),
      FELIX_BROKER_PUBLISH_CONN_INFLIGHT_BYTES: String(1024 * 1024),
      FELIX_BROKER_PUBLISH_INFLIGHT_BYTES: String(4 * 1024 * 1024),
    });
    // Another tenant's client holds most of the broker-wide budget for frames still being received.
    const hog = await RawStream.open(await connectRaw(node), { tenant_id: 'hog' });
    const header = allocateFrame(0, 900 * 1024);
    hog.write(header.subarray(0, 12 + 800 * 1024));
    await eventually(
      async () => (await metric(node, 'felix_partial_frame_bytes')) >= 800 * 1024,
      'the broker to hold the partial frame',
    );
    const c = await client(node.quicAddress.port);
    try {
      const refused = await failure(c.publish('s', Buffer.alloc(512 * 1024)));
      expect(refused.message).toContain('FELIX_PARTIAL_FRAME_BYTES');
      expect(refused.brokerCode).toBe('limit_exceeded');
      // The stream ended with the publish unanswered: whatever the report's class, its outcome is unknown.
      expect(refused.retry).toBe('outcome_unknown');
    } finally {
      await c.close();
    }
  });
});

describe('name rules', () => {
  it('refuses a name breaking the rules as invalid_request with auto-create off too (not_found is for good names)', async () => {
    const yaml = join(mkdtempSync(join(tmpdir(), 'felix-names-')), 'broker.yaml');
    writeFileSync(
      yaml,
      'tenants:\n  t1:\n    namespaces:\n      default:\n        streams: [s]\n        caches: [c]\n',
    );
    const node = await startBroker({ FELIX_AUTO_CREATE_STREAMS: '0', FELIX_BROKER_CONFIG: yaml });
    const c = await client(node.quicAddress.port);
    try {
      expect((await failure(c.publish('bad name!', 'x'))).brokerCode).toBe('invalid_request');
      expect((await failure(c.subscribe('bad name!', { onEvent: () => {} }))).brokerCode).toBe(
        'invalid_request',
      );
      expect((await failure(c.cache.put('default', 'bad cache!', 'k', 'v'))).brokerCode).toBe(
        'invalid_request',
      );
      expect((await failure(c.publish('undeclared', 'x'))).brokerCode).toBe('not_found');
      expect((await failure(c.cache.get('default', 'undeclared', 'k'))).brokerCode).toBe('not_found');
    } finally {
      await c.close();
    }
  });

  it('refuses names breaking the rules on publish, subscribe and every cache operation, and an empty key', async () => {
    const node = await startBroker();
    const c = await client(node.quicAddress.port);
    try {
      const publish = await failure(c.publish('bad name!', 'x'));
      expect(publish).toMatchObject({ code: 'publish_rejected', brokerCode: 'invalid_request' });
      expect(publish.message).toContain('invalid stream name "bad name!"');
      const namespace = await failure(c.publish('ok', 'x', { namespace: 'bad ns!' }));
      expect(namespace.message).toContain('invalid namespace name "bad ns!"');
      const subscribe = await failure(c.subscribe('bad name!', { onEvent: () => {} }));
      expect(subscribe.brokerCode).toBe('invalid_request');
      for (const op of [
        () => c.cache.put('default', 'bad cache!', 'k', 'v'),
        () => c.cache.get('default', 'bad cache!', 'k'),
        () => c.cache.delete('default', 'bad cache!', 'k'),
      ]) {
        const refused = await failure(op());
        expect(refused.brokerCode).toBe('invalid_request');
        expect(refused.message).toContain('invalid cache name "bad cache!"');
      }
      // An empty key the SDK refuses at the call (the broker refuses it too: the conformance kit's
      // cache checks send one raw).
      for (const op of [
        () => c.cache.put('default', 'sessions', '', 'v'),
        () => c.cache.get('default', 'sessions', ''),
        () => c.cache.delete('default', 'sessions', ''),
      ]) {
        expect((await failure(op())).code).toBe('invalid_argument');
      }
      // A name of 255 bytes is still a name; one of 256 is not.
      await c.publish('s'.repeat(255), 'x');
      expect((await failure(c.publish('s'.repeat(256), 'x'))).brokerCode).toBe('invalid_request');
      // Nothing was created for the refused names, and good names still work.
      const names = [...node.broker.registry.all].map((t) => t.name);
      expect(names).not.toContain('bad name!');
      await c.cache.put('default', 'sessions', 'k', 'v');
      expect(Buffer.from((await c.cache.get('default', 'sessions', 'k'))!).toString()).toBe('v');
    } finally {
      await c.close();
    }
  });

  it('echoes a name or key too long to read whole as its first 64 characters and its size, everywhere', async () => {
    const node = await startBroker();
    const c = await client(node.quicAddress.port);
    const long = 's'.repeat(256);
    const cut = `${'s'.repeat(64)}…(256 bytes)`;
    try {
      const refusals = await Promise.all([
        failure(c.publish(long, 'x')),
        failure(c.publishBatch(long, ['x', 'y'])),
        failure(c.publish('ok', 'x', { namespace: long })),
        failure(c.subscribe(long, { onEvent: () => {} })),
        failure(c.cache.put('default', long, 'k', 'v')),
        failure(c.cache.get('default', long, 'k')),
        failure(c.cache.delete('default', long, 'k')),
        failure(c.cache.get('default', long, 'k'.repeat(300))),
      ]);
      for (const refusal of refusals) {
        expect(refusal.brokerCode).toBe('invalid_request');
        // The SDK's prefix names the request with the name cut; the broker's own message cuts it the
        // same way (config/shown-name.ts).
        expect(refusal.message).toContain(cut);
        expect(refusal.message).toMatch(/: invalid (stream|namespace|cache) name "s{64}…\(256 bytes\)": /);
        expect(refusal.message).not.toContain('s'.repeat(65));
        expect(refusal.message.length).toBeLessThan(420);
      }
      expect(refusals[7]!.message).toContain(`"${'k'.repeat(64)}…(300 bytes)"`);
      // A name within 64 characters is echoed whole.
      expect((await failure(c.publish('bad name!', 'x'))).message).toMatch(
        /^publish to t1\/default\/bad name! /,
      );
      // Control characters a peer put in a name reach no terminal or log as themselves, on either side.
      const controls = await failure(c.publish('a\u0000b\u001b[2Jc', 'x'));
      expect(controls.brokerCode).toBe('invalid_request');
      expect(controls.message).toContain('t1/default/a\\u0000b\\u001b[2Jc');
      expect(controls.message).toContain('invalid stream name "a\\u0000b\\u001b[2Jc"');
      expect([...controls.message].some((ch) => ch.charCodeAt(0) < 0x20)).toBe(false);
    } finally {
      await c.close();
    }
  });

  it("echoes a long tenant in the broker's own refusals as its first 64 characters and its size", async () => {
    const node = await startBroker();
    const s = await RawStream.open(await connectRaw(node));
    const other = { tenant_id: 't'.repeat(300), namespace: 'ns' };
    const refusal = `stream authenticated for tenant t1 may not use tenant ${'t'.repeat(64)}…(300 bytes)`;
    s.send({
      type: 'publish',
      ...other,
      stream: 's',
      payload: Buffer.from('x'),
      request_id: 1,
      ack: 'per_message',
    });
    s.send({ type: 'subscribe', ...other, stream: 's', subscription_id: 2 });
    s.send({
      type: 'cache_put',
      ...other,
      cache: 'c',
      key: 'k',
      value: Buffer.from('v'),
      ttl_ms: null,
      request_id: 3,
    });
    for (const type of ['publish_error', 'error', 'error']) {
      expect(await s.next()).toMatchObject({ type, code: 'forbidden', message: refusal });
    }
  });

  it('answers an unacked publish to a bad name with an error', async () => {
    const node = await startBroker();
    const s = await RawStream.open(await connectRaw(node));
    s.send({ type: 'publish', tenant_id: 't1', namespace: 'ns', stream: '', payload: Buffer.from('x') });
    expect(await s.next()).toMatchObject({ type: 'error', code: 'invalid_request' });
  });
});
