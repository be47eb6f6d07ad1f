// Idempotent publish across a broker restart (feature IDEMPOTENT_PUBLISH): a durable stream's log keeps a
// journal of which producers' publishes it holds, so a publish resent after the broker was killed — written,
// its ack perhaps lost — is acknowledged again and not appended twice; and one whose events the crash took
// back (a torn tail, cut here by hand) is appended again, never acknowledged unstored.
import { readdirSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RawStream } from '../broker/raw-client.js';
import {
  NAMESPACE,
  Publisher,
  RawClient,
  TENANT,
  killBroker,
  startDurableBroker,
  stopBroker,
  storageDir,
} from './durable-harness.js';

const STREAM = 'orders';
const PRODUCER = 4_000_000_001;
// Acks once the write is done, so an ack means the journal has the publish too (no fsync: it is a kill -9,
// not a power cut, that this test makes).
const ENV = { FELIX_DURABLE_FSYNC: 'none', FELIX_ACK_ON_COMMIT: '1' };

let requestId = 0;

/** Publishes `payload` as the producer's `sequence` and waits for its answer. */
async function publish(control: RawStream, sequence: number, payload: string): Promise<string> {
  const id = ++requestId;
  const before = control.frames.length;
  control.send({
    type: 'publish',
    tenant_id: TENANT,
    namespace: NAMESPACE,
    stream: STREAM,
    payload: Buffer.from(payload),
    request_id: id,
    ack: 'per_message',
    producer_id: PRODUCER,
    sequence,
  });
  for (;;) {
    const frame = await control.next();
    if (control.frames.length <= before) continue;
    if ('type' in frame && (frame as { request_id?: number }).request_id === id) return frame.type;
  }
}

async function logOf(client: RawClient, id: number): Promise<string[]> {
  const end = await client.nextOffset(STREAM, id);
  const { events } = await client.readLog(STREAM, id + 1, end);
  return events.map((e) => e.payload);
}

const payloads = (from: number, to: number): string[] =>
  Array.from({ length: to - from + 1 }, (_, i) => `p${from + i}`);

describe('idempotent publish across a broker restart (durable stream)', () => {
  it('acknowledges a resend of what the log holds without appending it, after kill -9 and after a clean stop', async () => {
    const dir = storageDir();
    let broker = await startDurableBroker(dir, ENV);
    let client = await RawClient.connect(broker);
    for (let s = 1; s <= 20; s++) expect(await publish(client.control, s, `p${s}`)).toBe('publish_ok');
    await killBroker(broker);

    broker = await startDurableBroker(dir, ENV);
    client = await RawClient.connect(broker);
    // What the SDK does after reconnecting: the publishes it had in flight, again, unchanged.
    for (let s = 15; s <= 20; s++) expect(await publish(client.control, s, `p${s}`)).toBe('publish_ok');
    expect(await publish(client.control, 21, 'p21')).toBe('publish_ok');
    expect(await logOf(client, 100)).toEqual(payloads(1, 21));
    await stopBroker(broker);

    broker = await startDurableBroker(dir, ENV);
    client = await RawClient.connect(broker);
    for (let s = 19; s <= 21; s++) expect(await publish(client.control, s, `p${s}`)).toBe('publish_ok');
    expect(await logOf(client, 200)).toEqual(payloads(1, 21));
    await stopBroker(broker);
  });

  it('appends a resend whose events the crash took back (torn tail), so nothing is acknowledged unstored', async () => {
    const dir = storageDir();
    let broker = await startDurableBroker(dir, ENV);
    let client = await RawClient.connect(broker);
    // One at a time: each publish is its own record, so cutting the file's last bytes takes p20 alone.
    for (let s = 1; s <= 20; s++) expect(await publish(client.control, s, `p${s}`)).toBe('publish_ok');
    await killBroker(broker);
    const streamDir = join(dir, TENANT, NAMESPACE, STREAM);
    const segment = join(
      streamDir,
      readdirSync(streamDir)
        .filter((n) => n.endsWith('.log'))
        .sort()
        .at(-1)!,
    );
    truncateSync(segment, statSync(segment).size - 3);

    broker = await startDurableBroker(dir, ENV);
    client = await RawClient.connect(broker);
    expect(await logOf(client, 100)).toEqual(payloads(1, 19));
    for (let s = 18; s <= 20; s++) expect(await publish(client.control, s, `p${s}`)).toBe('publish_ok');
    expect(await logOf(client, 200)).toEqual(payloads(1, 20));
    expect(broker.logs.some((l) => String(l.msg).startsWith('producer journal: claims on events'))).toBe(
      true,
    );
    await stopBroker(broker);
  });

  it('kill -9 under sustained load, 5 times: after each, the unanswered batches resent, every payload is in the log exactly once', async () => {
    const dir = storageDir();
    const env = { FELIX_DURABLE_FSYNC: 'on_commit', FELIX_ACK_ON_COMMIT: '1' };
    const resentTotal: number[] = [];
    for (let round = 0; round < 5; round++) {
      let broker = await startDurableBroker(dir, env);
      const publisher = new Publisher(
        await RawClient.connect(broker),
        STREAM,
        `r${round}`,
        8,
        16,
        Number.MAX_SAFE_INTEGER,
        0,
        PRODUCER + 1 + round,
      );
      await new Promise((r) => setTimeout(r, 200 + Math.random() * 400));
      await killBroker(broker);
      publisher.stop();
      resentTotal.push(publisher.unanswered);
      broker = await startDurableBroker(dir, env);
      const client = await RawClient.connect(broker);
      await publisher.resendUnanswered(client);
      expect(publisher.refused).toEqual([]);
      const log = await logOf(client, 1000 + round * 10);
      const copies = new Map<string, number>();
      for (const p of log) copies.set(p, (copies.get(p) ?? 0) + 1);
      const twice = [...copies].filter(([, n]) => n > 1).map(([p]) => p);
      expect(twice, `round ${round}: payloads appended twice`).toEqual([]);
      expect(publisher.acked.filter((p) => !copies.has(p))).toEqual([]);
      await stopBroker(broker);
    }
    process.stdout.write(
      `producer journal: batches unanswered at each kill, resent: ${resentTotal.join(', ')}\n`,
    );
  }, 120_000);
});
