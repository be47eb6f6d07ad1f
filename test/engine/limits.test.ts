/**
 * Bounds a client cannot talk its way past, through the stream port without sockets: bytes of frames still
 * being received (per connection, per tenant and for the whole broker), publish bytes in flight per
 * tenant, auto-created streams per tenant, and the removal of idle auto-created streams.
 */
import { describe, expect, it } from 'vitest';
import { KNOWN_FEATURES, encodeJsonMessage } from '../../wire/index.js';
import { decodeAnswers, engineFixture, settle } from './engine-harness.js';
import { rawHeader } from './hostile-frames.js';

const KiB = 1024;
const MiB = 1024 * KiB;

const { use, connect } = engineFixture();

/** Frames up to 1 MiB, 2 MiB of partial frames per connection, `total` for the broker. */
function partialFrameLimits(total: number): Record<string, string> {
  return {
    FELIX_MAX_FRAME_BYTES: String(1 * MiB),
    FELIX_CACHE_MAX_VALUE_BYTES: String(64 * KiB),
    FELIX_EVENT_BATCH_MAX_BYTES: String(64 * KiB),
    FELIX_PUBLISH_CHUNK_BYTES: String(64 * KiB),
    FELIX_CONN_PARTIAL_FRAME_BYTES: String(2 * MiB),
    FELIX_PARTIAL_FRAME_BYTES: String(total),
    FELIX_BROKER_PUBLISH_CONN_INFLIGHT_BYTES: String(4 * MiB),
  };
}

/** Connections of `tenant` that each start a 1 MiB frame (900 KiB of it); the indexes of those refused. */
async function largeFramesOf(tenant: string, connections: number): Promise<number[]> {
  const refused = [];
  for (let i = 0; i < connections; i++) {
    const s = connect().authedStream({ ...AUTH, tenant_id: tenant });
    startLargeFrame(s);
    await settle();
    const frames = decodeAnswers(s.received()).map((a) => a.frame);
    if (frames.some((f) => f?.type === 'error')) refused.push(i);
  }
  return refused;
}

/** Announces a 1 MiB frame on `stream` and sends 900 KiB of it, never the rest. */
function startLargeFrame(stream: { clientWrite(bytes: Uint8Array): void }): void {
  stream.clientWrite(rawHeader(0, 1 * MiB));
  stream.clientWrite(Buffer.alloc(900 * KiB, 0x20));
}

const AUTH = { client_flags: 0x3f, client_features: KNOWN_FEATURES };

describe('limits', () => {
  it('bounds the bytes of partial frames per connection, and gives them back when streams end', async () => {
    const engine = use(partialFrameLimits(64 * MiB));
    const conn = connect();
    const streams = [];
    // Each stream starts a 1 MiB frame and sends 900 KiB of it: the third passes the connection's 2 MiB.
    for (let i = 0; i < 3; i++) {
      const s = conn.authedStream(AUTH);
      startLargeFrame(s);
      streams.push(s);
    }
    await settle();
    const answers = streams.map((s) => decodeAnswers(s.received()).map((a) => a.frame));
    expect(answers[0]).toEqual([expect.objectContaining({ type: 'auth_ok' })]);
    expect(answers[1]).toEqual([expect.objectContaining({ type: 'auth_ok' })]);
    // A bound of what is in flight, not of the frame: sent again once the others are in, it fits.
    expect(answers[2]![1]).toMatchObject({ type: 'error', code: 'limit_exceeded', retry: 'retry_after' });
    expect(streams[2]!.stopCode).toBe(0x101);
    expect(conn.session.partialFrameBytes).toBe(1800 * KiB);
    // Another connection is unaffected by this one's bound.
    const other = connect().authedStream(AUTH);
    startLargeFrame(other);
    await settle();
    expect(decodeAnswers(other.received()).map((a) => a.frame?.type)).toEqual(['auth_ok']);
    expect(engine.broker.partialFrameBytes).toBe(2700 * KiB);
    // Streams that end give their bytes back.
    streams[0]!.clientReset(0x202);
    streams[1]!.clientReset(0x202);
    await settle();
    expect(conn.session.partialFrameBytes).toBe(0);
    expect(engine.broker.partialFrameBytes).toBe(900 * KiB);
  });

  it('bounds the partial-frame bytes of the whole broker', async () => {
    // Each tenant may hold the whole bound here: the broker's own bound is what this case pins.
    const engine = use({ ...partialFrameLimits(3 * MiB), FELIX_TENANT_PARTIAL_FRAME_BYTES: String(3 * MiB) });
    const refused = [];
    for (let i = 0; i < 5; i++) {
      const s = connect().authedStream(AUTH);
      startLargeFrame(s);
      await settle();
      const frames = decodeAnswers(s.received()).map((a) => a.frame);
      if (frames.some((f) => f?.type === 'error')) refused.push(i);
    }
    expect(refused).toEqual([3, 4]);
    expect(engine.broker.partialFrameBytes).toBeLessThanOrEqual(3 * MiB);
  });

  it("bounds one tenant's partial-frame bytes (half the broker's), so another tenant's frames still arrive", async () => {
    const engine = use(partialFrameLimits(6 * MiB));
    // t1 sends six large frames slowly from six connections: past its 3 MiB share, the fourth on are refused.
    expect(await largeFramesOf('t1', 6)).toEqual([3, 4, 5]);
    expect(engine.broker.partialFrameBytes).toBe(2700 * KiB);
    // t2's frame arrives: without the share t1 would hold 5,400 KiB of the 6 MiB and t2 be refused.
    expect(await largeFramesOf('t2', 1)).toEqual([]);
    expect(engine.broker.tenantShares.size).toBeGreaterThanOrEqual(2);
  });

  it('lets streams not yet authenticated hold a sixteenth together, so one tenant and they leave room for others', async () => {
    const engine = use(partialFrameLimits(8 * MiB));
    // t1 takes its share (half: 4 MiB) with large frames sent slowly: four of 900 KiB fit, the fifth not.
    expect(await largeFramesOf('t1', 6)).toEqual([4, 5]);
    // Before auth a frame is at most 72 KiB: twenty connections each start one and send 60 KiB of it.
    // Together they may hold a sixteenth of the bound (512 KiB): the ninth and after are refused.
    const refused = [];
    for (let i = 0; i < 20; i++) {
      const s = connect().stream();
      s.clientWrite(Buffer.concat([rawHeader(0, 70 * KiB), Buffer.alloc(60 * KiB, 0x20)]));
      await settle();
      if (decodeAnswers(s.received()).some((a) => a.frame?.type === 'error')) refused.push(i);
    }
    expect(refused).toEqual(Array.from({ length: 12 }, (_, i) => 8 + i));
    expect(engine.broker.partialFrameBytes).toBe(4 * 900 * KiB + 8 * 60 * KiB);
    // Another tenant's large frames still arrive: with half for streams that need no credentials, t1 and
    // they held the whole bound, and these were refused.
    expect(await largeFramesOf('t2', 3)).toEqual([]);
  });

  it('forgets a tenant once none of its streams is left and it holds nothing', async () => {
    const engine = use(partialFrameLimits(64 * MiB));
    const streams = [];
    for (let i = 0; i < 50; i++) {
      const s = connect().authedStream({ ...AUTH, tenant_id: `tenant${i}` });
      startLargeFrame(s);
      streams.push(s);
    }
    await settle();
    expect(engine.broker.tenantShares.size).toBe(50);
    for (const s of streams) s.clientReset(0x202);
    await settle();
    expect(engine.broker.tenantShares.size).toBe(0);
    expect(engine.broker.partialFrameBytes).toBe(0);
  });

  it("bounds one tenant's publish bytes in flight, so another tenant's acked publishes are still taken", async () => {
    const engine = use({
      FELIX_MAX_FRAME_BYTES: String(1 * MiB),
      FELIX_CACHE_MAX_VALUE_BYTES: String(64 * KiB),
      FELIX_EVENT_BATCH_MAX_BYTES: String(64 * KiB),
      FELIX_PUBLISH_CHUNK_BYTES: String(64 * KiB),
      FELIX_BROKER_PUBLISH_INFLIGHT_BYTES: String(4 * MiB),
      FELIX_BROKER_PUBLISH_CONN_INFLIGHT_BYTES: String(1 * MiB),
    });
    // t1 starts a chunked publish on each of six connections and sends 900 KiB of it, never the rest: past
    // its 2 MiB share (half the broker's 4 MiB), the third piece on is refused.
    const refused = [];
    for (let i = 0; i < 6; i++) {
      const s = connect().authedStream(AUTH);
      for (let at = 0; at < 900 * KiB; at += 60 * KiB)
        s.clientWrite(chunkOf('t1', 1, 1000 * KiB, at, 60 * KiB, 9));
      await settle();
      const frames = decodeAnswers(s.received()).map((a) => a.frame);
      if (frames.some((f) => f?.type === 'publish_error')) refused.push(i);
    }
    expect(refused).toEqual([2, 3, 4, 5]);
    expect(engine.broker.budget.total).toBeLessThanOrEqual(2 * MiB);
    // t2's acked 512 KiB publish is taken: without the share t1 would hold 3.6 MiB and t2 be overloaded.
    const t2 = connect().authedStream({ ...AUTH, tenant_id: 't2' });
    t2.clientWrite(chunkOf('t2', 1, 512 * KiB, 0, 512 * KiB, 5));
    await settle();
    expect(decodeAnswers(t2.received()).map((a) => a.frame)).toEqual([
      expect.objectContaining({ type: 'auth_ok' }),
      { type: 'publish_ok', request_id: 5 },
    ]);
  });

  it('refuses auto-created streams past the per-tenant cap with limit_exceeded, other tenants unaffected', async () => {
    use({ FELIX_MAX_AUTO_STREAMS_PER_TENANT: '3', FELIX_EVENT_BATCH_MAX_DELAY_US: '0' });
    const s = connect().authedStream(AUTH);
    for (let i = 0; i < 4; i++) {
      s.clientWrite(
        encodeJsonMessage({
          type: 'publish',
          tenant_id: 't1',
          namespace: 'ns',
          stream: `s${i}`,
          payload: Buffer.from('x'),
          request_id: i,
          ack: 'per_message',
        }),
      );
    }
    await settle();
    const frames = decodeAnswers(s.received()).map((a) => a.frame);
    expect(frames.slice(1, 4).map((f) => f?.type)).toEqual(['publish_ok', 'publish_ok', 'publish_ok']);
    expect(frames[4]).toMatchObject({ type: 'publish_error', request_id: 3, code: 'limit_exceeded' });
    // The limit is per tenant.
    const t2 = connect().authedStream({ ...AUTH, tenant_id: 't2' });
    t2.clientWrite(
      encodeJsonMessage({
        type: 'publish',
        tenant_id: 't2',
        namespace: 'ns',
        stream: 's0',
        payload: Buffer.from('x'),
        request_id: 1,
        ack: 'per_message',
      }),
    );
    await settle();
    expect(decodeAnswers(t2.received())[1]?.frame).toMatchObject({ type: 'publish_ok' });
  });

  it('removes an idle auto-created stream, keeps one with a subscriber, and frees its slot under the cap', async () => {
    const engine = use({ FELIX_MAX_AUTO_STREAMS_PER_TENANT: '2', FELIX_STREAM_IDLE_TIMEOUT_MS: '1000' });
    const registry = engine.broker.registry;
    expect(registry.topic('t1', 'ns', 'idle').ok).toBe(true);
    const busy = registry.topic('t1', 'ns', 'watched');
    if (!busy.ok) throw new Error(busy.message);
    // A subscriber keeps a stream, however quiet.
    busy.value.subscribers.push({} as never);
    // Looks every 250 ms: the first one notes it unused, the fourth after that (1 s later) removes it.
    expect(registry.idleLookPeriodMs).toBe(250);
    for (let i = 0; i < 4; i++) registry.sweepIdle();
    expect(registry.autoCreatedStreams('t1')).toBe(2);
    registry.sweepIdle();
    expect(registry.autoCreatedStreams('t1')).toBe(1);
    expect([...registry.all].map((t) => t.name)).toEqual(['watched']);
    // Its slot is free again.
    expect(registry.topic('t1', 'ns', 'another').ok).toBe(true);
    busy.value.subscribers.pop();
  });
});

/** A piece of the acked chunked publish `publishId` of `tenant`: `bytes` at `at` of `total`. */
function chunkOf(
  tenant: string,
  publishId: number,
  total: number,
  at: number,
  bytes: number,
  requestId: number,
) {
  return encodeJsonMessage({
    type: 'publish_chunk',
    tenant_id: tenant,
    namespace: 'ns',
    stream: 's',
    publish_id: publishId,
    total_len: total,
    byte_offset: at,
    payload: Buffer.alloc(bytes, 0x41),
    request_id: requestId,
    ack: 'per_message',
  });
}
