// What publishBatch promises about a batch that is refused, through the SDK over real QUIC against a real
// broker: a payload over the broker's largest message fails the whole batch before anything is sent, and a
// batch split into several frames of which the broker appended some and refused others says which were
// appended.
import * as fs from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { FelixError } from '../../client/index.js';
import { client, eventually, failure, startBroker } from './sdk-harness.js';

/** A broker with 64 KiB frames: its largest message is 64 KiB less the 1 KiB event envelope. */
const SMALL_FRAMES = {
  maxFrameBytes: 65536,
  cacheMaxValueBytes: 32768,
  eventBatchMaxBytes: 16384,
} as const;
const LARGEST = 65536 - 1024;

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The last offset a stream gives out (its next offset, 2^53 − 1, must stay a safe integer). */
const LAST_OFFSET = Number.MAX_SAFE_INTEGER - 1;

describe('publishBatch with a payload over the largest message', () => {
  it('refuses the whole batch before sending any of it, in either order and with or without ack', async () => {
    const node = await startBroker(SMALL_FRAMES);
    const c = await client(node);
    const seen: string[] = [];
    await c.subscribe('whole', {
      start: 'earliest',
      onEvent: (e) => seen.push(Buffer.from(e.payload).toString()),
    });
    const tooLarge = Buffer.alloc(LARGEST + 1);
    const refusals: FelixError[] = [];
    for (const [payloads, ack] of [
      [['small', tooLarge], undefined],
      [[tooLarge, 'small'], undefined],
      [['small', tooLarge], 'none'],
    ] as const) {
      refusals.push(await failure(c.publishBatch('whole', payloads, ack === undefined ? {} : { ack })));
    }
    // Nothing reached the broker: it refused nothing and appended nothing. The publish after it is offset 0.
    await c.publish('whole', 'after');
    await eventually(() => seen.length > 0, 'the publish after the refusals delivered');
    expect(seen).toEqual(['after']);
    expect(node.stats.publishErrors).toBe(0);
    // Refused as the broker refuses such a publish, and saying that nothing was sent.
    for (const refused of refusals) {
      expect(refused).toMatchObject({
        code: 'publish_rejected',
        brokerCode: 'payload_too_large',
        retry: 'fatal',
      });
      expect(refused.message).toContain(`message of ${LARGEST + 1} bytes`);
      expect(refused.message).toContain(`${LARGEST} bytes`);
      expect(refused.message).toContain('nothing of the batch was sent');
    }
  });
});

describe('publishBatch split into several frames', () => {
  it('when the broker appends some frames and refuses others, rejects once all are answered, naming the appended payloads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'felix-batch-'));
    dirs.push(dir);
    const durable = {
      durableStorageDir: dir,
      durableDefault: true,
      durableFsync: 'periodic',
      ackOnCommit: false,
    } as const;
    // A durable stream whose reservation mark leaves room for two more events (as a hand-edited or
    // restored reservation.json can): its third is refused, `limit_exceeded`, whatever comes before it.
    const first = await startBroker(durable);
    await (await client(first)).publish('edge', 'first');
    await first.stop();
    fs.writeFileSync(
      join(dir, 't1', 'default', 'edge', 'reservation.json'),
      `${JSON.stringify({ version: 1, reserved_to: LAST_OFFSET - 1 })}\n`,
    );
    const node = await startBroker(durable);
    const c = await client(node);
    const offsets: number[] = [];
    await c.subscribe('edge', { onEvent: (e) => offsets.push(e.offset) });
    // Three payloads of 10 KiB: one frame each at the default 16 KiB chunk size.
    const payloads = [0, 1, 2].map((i) => Buffer.alloc(10 * 1024, i));
    const refused = await failure(c.publishBatch('edge', payloads));
    expect(refused).toMatchObject({
      code: 'publish_rejected',
      brokerCode: 'limit_exceeded',
      // Sending the batch again would append its first two payloads twice.
      retry: 'outcome_unknown',
      batch: { payloads: 3, acked: [0, 1] },
    });
    expect(refused.message).toContain('2 of its 3 payloads were appended');
    await eventually(() => offsets.length === 2, 'the two appended payloads delivered');
    expect(offsets).toEqual([LAST_OFFSET - 1, LAST_OFFSET]);

    // Refused whole (every frame refused alike): nothing appended, the refusal's own class.
    const none = await failure(c.publishBatch('edge', payloads));
    expect(none).toMatchObject({
      brokerCode: 'limit_exceeded',
      retry: 'fatal',
      batch: { payloads: 3, acked: [] },
    });
    expect(none.message).toContain('none of its 3 payloads was appended');
  });
});
