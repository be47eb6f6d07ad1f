// What the broker does at start with a durable stream whose files were lost or damaged outside it: the
// stream's data is never dropped, served as a new stream from offset 0, or created afresh over the old files.
import * as fs from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { until } from '../broker/raw-client.js';
import {
  NAMESPACE,
  Publisher,
  RawClient,
  TENANT,
  contiguousFromZero,
  logLine,
  startDurableBroker,
  stopBroker,
  storageDir,
} from './durable-harness.js';

const ACK_ON_COMMIT = { FELIX_DURABLE_FSYNC: 'on_commit', FELIX_ACK_ON_COMMIT: '1' };

function streamDir(root: string, stream: string): string {
  return join(root, TENANT, NAMESPACE, stream);
}

/** Publishes `count` events `<tag>-<i>` (acked) and waits for every ack. */
async function publishAll(client: RawClient, stream: string, tag: string, count: number): Promise<void> {
  const p = new Publisher(client, stream, tag, 8, 16, count);
  await p.finish();
  expect(p.refused).toEqual([]);
  expect(p.acked.length).toBe(count);
}

/** A stopped broker's storage holding `count` acked events on each of `streams`. */
async function storedStreams(dir: string, streams: readonly string[], count: number): Promise<void> {
  const broker = await startDurableBroker(dir, ACK_ON_COMMIT);
  const client = await RawClient.connect(broker);
  for (const s of streams) await publishAll(client, s, s, count);
  await stopBroker(broker);
}

function epochIn(dir: string, stream: string): number {
  const meta = JSON.parse(fs.readFileSync(join(streamDir(dir, stream), 'stream.json'), 'utf8')) as {
    epoch: number;
  };
  return meta.epoch;
}

describe('durable streams: stream.json lost', () => {
  it('recovers the segments as a durable stream under a new epoch, with a warning, whatever FELIX_DURABLE_DEFAULT says', async () => {
    const dir = storageDir();
    await storedStreams(dir, ['kept'], 100);
    const oldEpoch = epochIn(dir, 'kept');
    const metaPath = join(streamDir(dir, 'kept'), 'stream.json');
    fs.rmSync(metaPath);
    // Not durable by configuration: only its log on disk can make this stream durable.
    const broker = await startDurableBroker(dir, { ...ACK_ON_COMMIT, FELIX_DURABLE_DEFAULT: '0' });
    const warning = await logLine(
      broker,
      'durable stream: stream.json missing; its segments recovered under a new epoch (the old epoch is lost)',
    );
    expect(warning).toMatchObject({ stream: `${TENANT}/${NAMESPACE}/kept`, path: metaPath, level: 40 });
    const recovered = await logLine(broker, 'durable stream recovered');
    expect(recovered).toMatchObject({ stream: `${TENANT}/${NAMESPACE}/kept`, nextOffset: 100 });
    const client = await RawClient.connect(broker);
    expect(await client.nextOffset('kept', 1)).toBe(100);
    const { events, reply } = await client.readLog('kept', 2, 100);
    expect(contiguousFromZero(events)).toBe(true);
    expect(events.every((e) => e.payload === `kept-${e.offset}`)).toBe(true);
    const newEpoch = reply.epoch as number;
    expect(newEpoch).not.toBe(oldEpoch);
    expect(newEpoch).toBe(warning.epoch);
    // New events continue the offsets, on disk: the stream is durable again.
    await publishAll(client, 'kept', 'next', 1);
    await until(() => client.received(2).some((e) => e.payload === 'next-0'), 'the next event');
    expect(client.received(2).find((e) => e.payload === 'next-0')!.offset).toBe(100);
    await stopBroker(broker);
    // The new epoch was written down: the next start keeps it, without a warning.
    expect(epochIn(dir, 'kept')).toBe(newEpoch);
    const again = await startDurableBroker(dir, { FELIX_DURABLE_DEFAULT: '0' });
    await logLine(again, 'durable stream recovered');
    expect(again.logs.some((l) => l.level === 40 && String(l.msg).includes('stream.json'))).toBe(false);
    const reader = await RawClient.connect(again);
    expect(await reader.nextOffset('kept', 1)).toBe(101);
    expect((await reader.subscribe('kept', 2, 'earliest')).epoch).toBe(newEpoch);
    await stopBroker(again);
  }, 60_000);
});
