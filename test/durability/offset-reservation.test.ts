// Offsets of a durable stream without FELIX_ACK_ON_COMMIT, across kill -9: events reach subscribers before
// their records are written, so a crash can lose events whose offsets were already seen. Those offsets must
// never name another event afterwards (a subscriber resuming from one would take the new event for one it
// had). Real broker processes, a real kill -9; the lost write is modelled by cutting the segment file at the
// record that held the first lost offset (what a crash before that write reached the file leaves).
import * as fs from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseRecord } from '../../broker/storage/record-format.js';
import { until } from '../broker/raw-client.js';
import {
  NAMESPACE,
  Publisher,
  RawClient,
  TENANT,
  UNCLEAN,
  contiguousFromZero,
  killBroker,
  logLine,
  startDurableBroker,
  stopBroker,
  storageDir,
} from './durable-harness.js';

/** Acks as soon as events are accepted, delivery before the write: the case reservations exist for. */
const ACK_ON_ACCEPT = { FELIX_DURABLE_FSYNC: 'periodic', FELIX_ACK_ON_COMMIT: '0' };

function streamDir(root: string, stream: string): string {
  return join(root, TENANT, NAMESPACE, stream);
}

function lastSegment(root: string, stream: string): string {
  const files = fs
    .readdirSync(streamDir(root, stream))
    .filter((n) => n.endsWith('.log'))
    .sort();
  return join(streamDir(root, stream), files.at(-1)!);
}

/**
 * Cuts `file` at the start of the record holding `offset`, as if the writes from there on never reached
 * it; returns the first offset lost (the record's first).
 */
function loseRecordsFrom(file: string, offset: number): number {
  const bytes = fs.readFileSync(file);
  let at = 0;
  while (at < bytes.length) {
    const r = parseRecord(bytes, at, bytes.length, 1 << 24);
    if (r.status !== 'ok') throw new Error(`record at ${at}: ${r.status}`);
    if (r.firstOffset + r.count > offset) {
      fs.truncateSync(file, at);
      return r.firstOffset;
    }
    at = r.end;
  }
  throw new Error(`no record holds offset ${offset}`);
}

/** The end of the records in `file` (the offset after its last one). */
function recordsEnd(file: string): number {
  const bytes = fs.readFileSync(file);
  let at = 0;
  let end = 0;
  for (;;) {
    const r = parseRecord(bytes, at, bytes.length, 1 << 24);
    if (r.status !== 'ok') return end;
    end = r.firstOffset + r.count;
    at = r.end;
  }
}

/** Publishes `count` events `<tag>-<i>` (acked), then waits until their records are in the file. */
async function publishAll(root: string, client: RawClient, stream: string, tag: string, count: number) {
  const p = new Publisher(client, stream, tag, 4, 16, count);
  await p.finish();
  expect(p.refused).toEqual([]);
  expect(p.acked.length).toBe(count);
  const end = await client.nextOffset(stream, 1000 + count);
  await until(() => recordsEnd(lastSegment(root, stream)) === end, `the records of ${stream} written`);
}

/** A subscription's events once the one with payload `last` arrived. */
async function receivedThrough(client: RawClient, id: number, last: string) {
  await until(() => client.received(id).some((e) => e.payload === last), `${last} on subscription ${id}`);
  return client.received(id);
}

describe('durable streams: an offset once given out is never given to another event', () => {
  it('after a kill -9 that lost written-late events, continues above every offset seen: a gap, no reuse', async () => {
    const dir = storageDir();
    const broker = await startDurableBroker(dir, ACK_ON_ACCEPT);
    const client = await RawClient.connect(broker);
    const subscribed = await client.subscribe('r', 1, 'earliest');
    // Two runs of publishes, the second written after the first: the crash loses the second's records.
    await publishAll(dir, client, 'r', 'a', 40);
    await publishAll(dir, client, 'r', 'c', 10);
    const seen = await receivedThrough(client, 1, 'c-9');
    expect(seen.map((e) => e.offset)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    await killBroker(broker);
    const lostFrom = loseRecordsFrom(lastSegment(dir, 'r'), 40);
    expect(lostFrom).toBe(40);

    const again = await startDurableBroker(dir, ACK_ON_ACCEPT);
    const line = await logLine(again, UNCLEAN);
    expect(line).toMatchObject({ stream: `${TENANT}/${NAMESPACE}/r`, logEnd: lostFrom, level: 40 });
    const next = line.nextOffset as number;
    expect(next).toBeGreaterThanOrEqual(50);
    const reader = await RawClient.connect(again);
    expect(await reader.nextOffset('r', 9)).toBe(next);
    // The subscriber resumes where it was (same epoch): not "in the future", although the log ends lower.
    const resumed = await reader.subscribe('r', 1, { offset: 50 }, subscribed.epoch as number);
    expect(resumed).toMatchObject({ type: 'subscribed', epoch: subscribed.epoch });
    // One resuming inside the lost range is served from where the stream continues.
    expect((await reader.subscribe('r', 2, { offset: lostFrom })).type).toBe('subscribed');
    await publishAll(dir, reader, 'r', 'b', 3);
    for (const id of [1, 2]) {
      const events = await receivedThrough(reader, id, 'b-2');
      expect(events).toEqual([0, 1, 2].map((i) => ({ offset: next + i, payload: `b-${i}` })));
    }
    // From earliest: what was written, then the new events past the gap; no offset names two events.
    expect((await reader.subscribe('r', 3, 'earliest')).type).toBe('subscribed');
    const all = await receivedThrough(reader, 3, 'b-2');
    const before = all.filter((e) => e.offset < lostFrom);
    expect(contiguousFromZero(before)).toBe(true);
    expect(before.every((e) => e.payload === `a-${e.offset}`)).toBe(true);
    expect(all.slice(before.length)).toEqual([0, 1, 2].map((i) => ({ offset: next + i, payload: `b-${i}` })));
    for (const e of all) {
      const earlier = seen.find((s) => s.offset === e.offset);
      if (earlier !== undefined) expect(e.payload).toBe(earlier.payload);
    }
    await stopBroker(again);
  }, 60_000);

  it('keeps the skip across a second kill -9 before anything is written past the gap', async () => {
    const dir = storageDir();
    const broker = await startDurableBroker(dir, ACK_ON_ACCEPT);
    const client = await RawClient.connect(broker);
    await publishAll(dir, client, 'r', 'a', 20);
    await publishAll(dir, client, 'r', 'c', 10);
    await killBroker(broker);
    const lostFrom = loseRecordsFrom(lastSegment(dir, 'r'), 20);
    expect(lostFrom).toBe(20);
    const first = await startDurableBroker(dir, ACK_ON_ACCEPT);
    const next = (await logLine(first, UNCLEAN)).nextOffset as number;
    expect(next).toBeGreaterThanOrEqual(30);
    await killBroker(first);

    const second = await startDurableBroker(dir, ACK_ON_ACCEPT);
    const recovered = await logLine(second, 'durable stream recovered');
    expect(recovered).toMatchObject({ stream: `${TENANT}/${NAMESPACE}/r`, nextOffset: next });
    // The empty segment the stream continues in is the log past its gap, not junk to set aside; the mark
    // written before the first crash's skip covers it: no second skip.
    expect(second.logs.filter((l) => String(l.msg).startsWith('durable stream:'))).toEqual([]);
    const reader = await RawClient.connect(second);
    await publishAll(dir, reader, 'r', 'b', 1);
    const { events } = await reader.readLog('r', 1, next + 1);
    expect(events.filter((e) => e.offset < lostFrom).length).toBe(lostFrom);
    expect(events.at(-1)).toEqual({ offset: next, payload: 'b-0' });
    await stopBroker(second);
  }, 60_000);

  it('continues exactly at the log end after a clean stop: no gap', async () => {
    const dir = storageDir();
    const broker = await startDurableBroker(dir, ACK_ON_ACCEPT);
    const client = await RawClient.connect(broker);
    await publishAll(dir, client, 'r', 'a', 20);
    await stopBroker(broker);
    const again = await startDurableBroker(dir, ACK_ON_ACCEPT);
    expect(await logLine(again, 'durable stream recovered')).toMatchObject({ nextOffset: 20 });
    expect(again.logs.some((l) => l.msg === UNCLEAN)).toBe(false);
    const reader = await RawClient.connect(again);
    await publishAll(dir, reader, 'r', 'b', 1);
    const { events } = await reader.readLog('r', 1, 21);
    expect(contiguousFromZero(events)).toBe(true);
    expect(events.at(-1)).toEqual({ offset: 20, payload: 'b-0' });
    await stopBroker(again);
  }, 60_000);
});

// A reservation near 2^53 (hand-edited, restored, or bit-flipped yet still valid) puts the stream's next
// offset at the end of the safe-integer range at start. The broker must refuse what it cannot number
// exactly (nothing acked, nothing written), never round offsets so that one names several events, and
// never write a reservation its next start refuses.
const USED_UP = 'stream offsets used up: publishes to it are refused';
/** The last offset a stream gives out: its next offset (2^53 − 1) must stay a safe integer too. */
const LAST_OFFSET = Number.MAX_SAFE_INTEGER - 1;

describe('a durable stream at the end of the offset range', () => {
  it('refuses the publishes it cannot number, and starts again from what it wrote', async () => {
    const dir = storageDir();
    const bigDir = streamDir(dir, 'big');
    let broker = await startDurableBroker(dir, ACK_ON_ACCEPT);
    let client = await RawClient.connect(broker);
    const first = new Publisher(client, 'big', 'first', 1, 1, 1);
    await first.finish();
    expect(first.acked).toEqual(['first-0']);
    await client.close();
    await stopBroker(broker);

    // Room for three more events: LAST_OFFSET − 2, LAST_OFFSET − 1 and LAST_OFFSET.
    fs.writeFileSync(
      join(bigDir, 'reservation.json'),
      `${JSON.stringify({ version: 1, reserved_to: LAST_OFFSET - 2 })}\n`,
    );
    broker = await startDurableBroker(dir, ACK_ON_ACCEPT);
    client = await RawClient.connect(broker);
    const p = new Publisher(client, 'big', 'e', 1, 1, 5);
    await p.finish();
    expect(p.acked).toEqual(['e-0', 'e-1', 'e-2']);
    expect(p.refused).toHaveLength(1);
    expect(p.refused[0]).toMatchObject({ code: 'limit_exceeded', retry: 'fatal' });
    expect(p.refused[0]!.message).toMatch(/offsets/);
    // Refused again, logged once.
    const again = new Publisher(client, 'big', 'again', 2, 1, 2);
    await again.finish();
    expect(again.acked).toEqual([]);
    expect(again.refused[0]).toMatchObject({ code: 'limit_exceeded', retry: 'fatal' });
    const line = await logLine(broker, USED_UP);
    expect(line.level).toBe(50);
    expect(broker.logs.filter((l) => l.msg === USED_UP)).toHaveLength(1);

    const expected = [
      { offset: 0, payload: 'first-0' },
      { offset: LAST_OFFSET - 2, payload: 'e-0' },
      { offset: LAST_OFFSET - 1, payload: 'e-1' },
      { offset: LAST_OFFSET, payload: 'e-2' },
    ];
    expect((await client.readLog('big', 1, LAST_OFFSET + 1)).events).toEqual(expected);
    await client.close();
    await stopBroker(broker);

    // The mark a clean stop writes is one the next start reads: the stream is served, not refused as damaged.
    const mark = JSON.parse(fs.readFileSync(join(bigDir, 'reservation.json'), 'utf8')) as {
      reserved_to: number;
    };
    expect(Number.isSafeInteger(mark.reserved_to)).toBe(true);
    broker = await startDurableBroker(dir, ACK_ON_ACCEPT);
    client = await RawClient.connect(broker);
    expect((await client.readLog('big', 2, LAST_OFFSET + 1)).events).toEqual(expected);
    const after = new Publisher(client, 'big', 'after', 1, 1, 1);
    await after.finish();
    expect(after.refused[0]).toMatchObject({ code: 'limit_exceeded', retry: 'fatal' });
    expect(
      broker.logs.some((l) => typeof l.msg === 'string' && l.msg.startsWith('durable stream: damaged')),
    ).toBe(false);
    await client.close();
    await stopBroker(broker);
  }, 60_000);
});
