// Shared budgets cannot be parked for free (an outside probe's findings): a chunked publish holds only
// what has arrived of it, a stream quiet mid-frame or mid-publish is ended after
// FELIX_STREAM_STALL_TIMEOUT_MS and its bytes released, and a stream that has not sent its auth can only
// send small frames. Over real QUIC on loopback, raw streams against an in-process broker.
import { describe, expect, it } from 'vitest';
import { allocateFrame, encodeMessage, type DecodedFrame } from '../../wire/index.js';
import { metric } from '../e2e/sdk-harness.js';
import { RawStream, connectRaw, startBroker, until } from './raw-client.js';

const MiB = 1024 * 1024;
const address = { tenant_id: 't1', namespace: 'ns', stream: 's' };

function firstPiece(s: RawStream, publishId: number, totalLen: number): void {
  s.send({
    type: 'publish_chunk',
    ...address,
    publish_id: publishId,
    total_len: totalLen,
    byte_offset: 0,
    payload: Buffer.alloc(1024, 1),
    request_id: publishId,
    ack: 'per_message',
  });
}

async function publishOk(s: RawStream, requestId: number, bytes: number): Promise<DecodedFrame | Error> {
  s.send({
    type: 'publish',
    ...address,
    payload: Buffer.alloc(bytes),
    request_id: requestId,
    ack: 'per_message',
  });
  return s.next();
}

describe('stalled streams and unfinished chunked publishes', () => {
  it('ends a stream that announced a frame over the limit and went quiet, though it holds no byte of it', async () => {
    const node = await startBroker({ FELIX_STREAM_STALL_TIMEOUT_MS: '500' });
    const s = await RawStream.open(await connectRaw(node));
    // A header announcing 4 GiB − 1 and a few bytes of it: refused at once, then discarded as it comes.
    const header = allocateFrame(0, 0);
    header.writeUInt32BE(0xffff_ffff, 8);
    s.write(Buffer.concat([header, Buffer.alloc(100)]));
    expect(await s.next()).toMatchObject({ type: 'error', code: 'limit_exceeded' });
    const stalled = (await s.next()) as { type: string; code?: string; message?: string };
    expect(stalled).toMatchObject({ type: 'error', code: 'limit_exceeded' });
    expect(stalled.message).toMatch(
      /^stream stalled: no input for 500 ms while waiting for the rest of a frame/,
    );
    await until(() => s.ended, 'the stalled stream ended');
    expect(await metric(node, 'felix_stalled_streams_total')).toBe(1);
  });

  it('a chunked publish holds what arrived, not what it announced; a quiet one is ended and released', async () => {
    const node = await startBroker({ FELIX_STREAM_STALL_TIMEOUT_MS: '1000' });
    // Five connections each start a publish announcing 16 MiB and send 1 KiB of it (80 MiB announced:
    // more than the broker's 64 MiB in-flight budget, were announcements charged).
    const holders = await Promise.all(
      Array.from({ length: 5 }, async (_, i) => {
        const s = await RawStream.open(await connectRaw(node));
        firstPiece(s, 100 + i, 16 * MiB - 2048);
        return s;
      }),
    );
    const other = await RawStream.open(await connectRaw(node));
    expect(await publishOk(other, 1, 1 * MiB)).toEqual({ type: 'publish_ok', request_id: 1 });
    // Nothing more comes: each holder is answered limit_exceeded and ended.
    for (const s of holders) {
      const reply = (await s.next()) as { type: string; code?: string; message?: string };
      // What it held was dropped unapplied: sending it again, whole, is safe.
      expect(reply).toMatchObject({ type: 'error', code: 'limit_exceeded', retry: 'retry' });
      expect(reply.message).toContain('FELIX_STREAM_STALL_TIMEOUT_MS');
      await until(() => s.ended, 'the stalled stream ended');
    }
    expect(await metric(node, 'felix_stalled_streams_total')).toBe(5);
    expect(await publishOk(other, 2, 10)).toEqual({ type: 'publish_ok', request_id: 2 });
  });

  it('ends a stream quiet in the middle of a frame; a slow one that keeps sending is not', async () => {
    const node = await startBroker({ FELIX_STREAM_STALL_TIMEOUT_MS: '1000' });
    const quiet = await RawStream.open(await connectRaw(node));
    const frame = allocateFrame(0, MiB);
    quiet.write(frame.subarray(0, 4096));
    const slow = await RawStream.open(await connectRaw(node));
    const whole = encodeMessage({
      type: 'publish',
      ...address,
      payload: Buffer.from('slow'),
      request_id: 7,
      ack: 'per_message',
    });
    // Piece by piece, a quarter of the timeout apart: longer than the timeout in all.
    const step = Math.ceil(whole.length / 6);
    for (let at = 0; at < whole.length; at += step) {
      slow.write(whole.subarray(at, Math.min(at + step, whole.length)));
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(await slow.next()).toEqual({ type: 'publish_ok', request_id: 7 });
    expect(await quiet.next()).toMatchObject({ type: 'error', code: 'limit_exceeded', retry: 'retry' });
    await until(() => quiet.ended, 'the quiet stream ended');
  });

  it('refuses a stream quiet mid-frame before its auth like any refusal before auth', async () => {
    const node = await startBroker({ FELIX_STREAM_STALL_TIMEOUT_MS: '500' });
    const early = await RawStream.open(await connectRaw(node), null);
    early.write(allocateFrame(0, 1024).subarray(0, 100));
    const refused = (await early.next()) as { type: string; code?: string; message: string };
    // No code: nothing was negotiated yet.
    expect(refused).toEqual({ type: 'error', message: expect.any(String) });
    expect(refused.message).toMatch(
      /^unauthenticated: stream stalled: no input for 500 ms while waiting for the rest of a frame/,
    );
    await until(() => early.ended, 'the stalled stream ended');
  });

  it("refuses a stream not yet authenticated over its connection's partial-frame bound with unauthenticated: too", async () => {
    const node = await startBroker({
      FELIX_MAX_FRAME_BYTES: String(64 * 1024),
      FELIX_EVENT_BATCH_MAX_BYTES: String(16 * 1024),
      FELIX_CACHE_MAX_KEY_BYTES: '64',
      FELIX_CACHE_MAX_VALUE_BYTES: '1024',
      FELIX_CONN_PARTIAL_FRAME_BYTES: String(64 * 1024),
    });
    const conn = await connectRaw(node);
    const first = await RawStream.open(conn, null);
    first.write(allocateFrame(0, 60 * 1024).subarray(0, 40 * 1024));
    // The connection holds 40 KiB of it once a round trip on another stream came back.
    const probe = await RawStream.open(conn);
    probe.send({ type: 'cache_get', tenant_id: 't1', namespace: 'ns', cache: 'c', key: 'k', request_id: 1 });
    expect(await probe.next()).toMatchObject({ type: 'cache_value', request_id: 1 });
    const second = await RawStream.open(conn, null);
    second.write(allocateFrame(0, 60 * 1024).subarray(0, 40 * 1024));
    const refused = (await second.next()) as { type: string; code?: string; message: string };
    expect(refused).toEqual({ type: 'error', message: expect.any(String) });
    expect(refused.message).toMatch(
      /^unauthenticated: this connection's frames still being received hold \d+ bytes, over FELIX_CONN_PARTIAL_FRAME_BYTES/,
    );
    await until(() => second.ended, 'the refused stream ended');
  });

  it('takes only a small frame before auth, and the whole frame size after it', async () => {
    const node = await startBroker();
    const conn = await connectRaw(node);
    const early = await RawStream.open(conn, null);
    // A header announcing 1 MiB as the first frame: refused at once, nothing of it buffered.
    early.write(allocateFrame(0, MiB).subarray(0, 12));
    const refused = (await early.next()) as { type: string; message: string };
    expect(refused.type).toBe('error');
    expect(refused.message).toMatch(
      /^unauthenticated: auth expected: frame of 1048576 bytes exceeds the 73728-byte limit/,
    );
    // An auth, then at once a 1 MiB publish: taken.
    const s = await RawStream.open(conn);
    expect(await publishOk(s, 3, MiB)).toEqual({ type: 'publish_ok', request_id: 3 });
  });
});
