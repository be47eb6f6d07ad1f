// Idle auto-created streams, as a tenant at its FELIX_MAX_AUTO_STREAMS_PER_TENANT limit sees them (an
// outside review found removal 2–3× FELIX_STREAM_IDLE_TIMEOUT_MS late and the refusal meanwhile `fatal`):
// an unused stream goes between the timeout and the timeout plus two looks (a tenth of it, at least
// 250 ms), and until then the refusal is `retry_after`, saying when; with every stream subscribed it stays
// `fatal`. Over real QUIC on loopback, raw streams against an in-process broker.
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import type { DecodedFrame, WireError } from '../../wire/index.js';
import { RawStream, connectRaw, startBroker } from './raw-client.js';

const TIMEOUT_MS = 2_000;
/** Two looks of 250 ms (a tenth of 2 s, at least 250 ms), the documented bound past the timeout. */
const LATEST_MS = TIMEOUT_MS + 2 * 250;
/** What a shared, loaded machine may add to timers. */
const SLACK_MS = 400;

let requestId = 0;

/** An acked publish of one event to stream `stream` of `tenant`; its answer. */
async function publish(s: RawStream, tenant: string, stream: string): Promise<DecodedFrame | WireError> {
  s.send({
    type: 'publish',
    tenant_id: tenant,
    namespace: 'ns',
    stream,
    payload: Buffer.from('x'),
    request_id: ++requestId,
    ack: 'per_message',
  });
  return s.next();
}

describe('idle auto-created streams at the per-tenant limit', () => {
  it('go within the timeout plus two looks, and the refusal meanwhile is retry_after saying when', async () => {
    const node = await startBroker({
      FELIX_MAX_AUTO_STREAMS_PER_TENANT: '2',
      FELIX_STREAM_IDLE_TIMEOUT_MS: String(TIMEOUT_MS),
    });
    const s = await RawStream.open(await connectRaw(node));
    expect(await publish(s, 't1', 'a')).toMatchObject({ type: 'publish_ok' });
    expect(await publish(s, 't1', 'b')).toMatchObject({ type: 'publish_ok' });
    const lastUse = performance.now();

    const refused = (await publish(s, 't1', 'c')) as { detail?: { retry_after_ms?: number } };
    expect(refused).toMatchObject({ type: 'publish_error', code: 'limit_exceeded', retry: 'retry_after' });
    expect(refused.detail?.retry_after_ms).toBeGreaterThanOrEqual(TIMEOUT_MS - SLACK_MS);
    expect(refused.detail?.retry_after_ms).toBeLessThanOrEqual(LATEST_MS);

    // Asked again every 50 ms: refused until the first stream goes, never before the timeout.
    let answer = await publish(s, 't1', 'c');
    while ((answer as { type: string }).type !== 'publish_ok') {
      expect(answer).toMatchObject({ type: 'publish_error', code: 'limit_exceeded', retry: 'retry_after' });
      expect(performance.now() - lastUse).toBeLessThan(LATEST_MS + SLACK_MS);
      await new Promise((r) => setTimeout(r, 50));
      answer = await publish(s, 't1', 'c');
    }
    const removedAfter = performance.now() - lastUse;
    expect(removedAfter).toBeGreaterThanOrEqual(TIMEOUT_MS);
    expect(removedAfter).toBeLessThan(LATEST_MS + SLACK_MS);
  });

  it('stays fatal while every stream of the tenant has a subscriber', async () => {
    const node = await startBroker({
      FELIX_MAX_AUTO_STREAMS_PER_TENANT: '2',
      FELIX_STREAM_IDLE_TIMEOUT_MS: String(TIMEOUT_MS),
    });
    const conn = await connectRaw(node);
    const control = await RawStream.open(conn);
    for (const [id, stream] of [
      [1, 'a'],
      [2, 'b'],
    ] as const) {
      control.send({ type: 'subscribe', tenant_id: 't1', namespace: 'ns', stream, subscription_id: id });
      expect(await control.next()).toMatchObject({ type: 'subscribed', subscription_id: id });
    }
    // Past the broker's next look, which sees both subscribed.
    await new Promise((r) => setTimeout(r, 600));
    const s = await RawStream.open(conn);
    const refused = await publish(s, 't1', 'c');
    expect(refused).toMatchObject({ type: 'publish_error', code: 'limit_exceeded', retry: 'fatal' });
    expect(refused).not.toHaveProperty('detail');
    // A subscribe is refused the same way.
    control.send({ type: 'subscribe', tenant_id: 't1', namespace: 'ns', stream: 'c', subscription_id: 3 });
    expect(await control.next()).toMatchObject({ type: 'error', code: 'limit_exceeded', retry: 'fatal' });
  });
});
