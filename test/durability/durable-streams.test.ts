// Durable streams against real broker processes: replay from disk larger than the ring (from earliest and
// from an offset) joining the live stream, offsets and epoch across a restart, retention by bytes and by
// age (with a per-stream override from the YAML), torn-tail recovery, and a full disk.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type FelixEvent } from '../../client/index.js';
import { until } from '../broker/raw-client.js';
import { runBrokerExpectingFailure, type BrokerProcess } from '../e2e/broker-process.js';
import {
  NAMESPACE,
  Publisher,
  brokerMetric,
  RawClient,
  TENANT,
  contiguousFromZero,
  killBroker,
  logLine,
  startDurableBroker,
  stopBroker,
  storageDir,
  type Event,
} from './durable-harness.js';

function streamDir(root: string, stream: string): string {
  return join(root, TENANT, NAMESPACE, stream);
}

function segmentFiles(root: string, stream: string): string[] {
  const dir = streamDir(root, stream);
  return fs.existsSync(dir)
    ? fs
        .readdirSync(dir)
        .filter((n) => n.endsWith('.log'))
        .sort()
    : [];
}

/** Bytes of the stream's segments; a segment retention removes between the listing and its stat counts 0. */
function segmentBytes(root: string, stream: string): number {
  return segmentFiles(root, stream).reduce(
    (sum, n) => sum + (fs.statSync(join(streamDir(root, stream), n), { throwIfNoEntry: false })?.size ?? 0),
    0,
  );
}

/** Publishes `count` events `<tag>-<i>` (acked) and waits for every ack. */
async function publishAll(
  client: RawClient,
  stream: string,
  tag: string,
  count: number,
  bytes = 0,
): Promise<Publisher> {
  const p = new Publisher(client, stream, tag, 8, 16, count, bytes);
  await p.finish();
  expect(p.refused).toEqual([]);
  expect(p.acked.length).toBe(count);
  return p;
}

/** Subscribes from earliest and reads until every payload of `wanted` arrived; returns what arrived. */
async function readUntil(
  client: RawClient,
  stream: string,
  id: number,
  wanted: ReadonlySet<string>,
): Promise<Event[]> {
  expect((await client.subscribe(stream, id, 'earliest')).type).toBe('subscribed');
  await until(() => {
    const got = new Set(client.received(id).map((e) => e.payload));
    for (const w of wanted) if (!got.has(w)) return false;
    return true;
  }, `every acked event of ${stream}`);
  return client.received(id);
}

function yamlFile(dir: string, text: string): string {
  const path = join(dir, 'broker.yml');
  fs.writeFileSync(path, text);
  return path;
}

describe('durable streams: replay from disk', () => {
  it('serves a log larger than the ring from earliest and from an offset, then live without gap or duplicate', async () => {
    const dir = storageDir();
    const env = { FELIX_STREAM_REPLAY_CAPACITY: '16', FELIX_DURABLE_SEGMENT_BYTES: '16384' };
    const broker = await startDurableBroker(dir, env);
    const client = await RawClient.connect(broker);
    await publishAll(client, 'history', 'h', 3000, 100);
    // Live publishing goes on while the two subscribers catch up from disk.
    const live = new Publisher(await RawClient.connect(broker), 'history', 'live', 8, 4, 1000);
    const fromStart = await RawClient.connect(broker);
    const fromMiddle = await RawClient.connect(broker);
    expect((await fromStart.subscribe('history', 1, 'earliest')).type).toBe('subscribed');
    expect((await fromMiddle.subscribe('history', 2, { offset: 1234 })).type).toBe('subscribed');
    await live.finish();
    const last = 3999;
    const reached = (c: RawClient, id: number) => () => c.received(id).some((e) => e.offset === last);
    await until(reached(fromStart, 1), 'the earliest subscriber reaching the live end');
    await until(reached(fromMiddle, 2), 'the offset subscriber reaching the live end');
    const a = fromStart.received(1);
    expect(a.length).toBe(4000);
    expect(contiguousFromZero(a)).toBe(true);
    expect(a.slice(0, 3000).every((e) => e.payload.startsWith(`h-${e.offset}.`))).toBe(true);
    expect(a.slice(3000).map((e) => e.payload)).toEqual(live.acked);
    // From an offset: the frame holding it may start earlier (the client skips those), then every offset once.
    const b = fromMiddle.received(2).filter((e) => e.offset >= 1234);
    expect(b.map((e) => e.offset)).toEqual(Array.from({ length: 4000 - 1234 }, (_, i) => 1234 + i));
    expect(b.map((e) => e.payload)).toEqual(a.slice(1234).map((e) => e.payload));
    expect(segmentFiles(dir, 'history').length).toBeGreaterThan(10);

    // A restart keeps the offsets and the epoch: the next event is 4000.
    const epoch = (await client.subscribe('history', 3, 'latest')).epoch;
    await stopBroker(broker);
    const again = await startDurableBroker(dir, env);
    const after = await RawClient.connect(again);
    expect(await after.nextOffset('history', 1)).toBe(4000);
    expect((await after.subscribe('history', 2, { offset: 3990 }, epoch as number)).type).toBe('subscribed');
    await publishAll(after, 'history', 'after', 5);
    await until(() => after.received(2).some((e) => e.offset === 4004), 'the events after the restart');
    const tail = after.received(2).filter((e) => e.offset >= 3990);
    expect(tail.map((e) => e.offset)).toEqual(Array.from({ length: 15 }, (_, i) => 3990 + i));
    expect(tail.slice(10).map((e) => e.payload)).toEqual([
      'after-0',
      'after-1',
      'after-2',
      'after-3',
      'after-4',
    ]);
    await stopBroker(again);
  }, 60_000);
});

describe('durable streams: a reader that stops during the catch-up from disk', () => {
  it('reads on to the end when it starts again, with nothing published after', async () => {
    // A small write-ahead and ring: the replay comes from disk a chunk at a time. The reader stops for
    // longer than a subscriber may pass nothing on before it counts as stalled (1 s), then reads on; the
    // catch-up must continue with no publish to wake it.
    const dir = storageDir();
    const broker = await startDurableBroker(dir, {
      FELIX_STREAM_REPLAY_CAPACITY: '16',
      FELIX_DURABLE_SEGMENT_BYTES: '16384',
      FELIX_EVENT_SEND_WINDOW: '4KiB',
    });
    const raw = await RawClient.connect(broker);
    await publishAll(raw, 'paused', 'p', 4000, 200);
    const reader = await connect({
      broker: `127.0.0.1:${broker.quicPort}`,
      env: {},
      tenant: TENANT,
      namespace: NAMESPACE,
      eventConnPool: 1,
      eventConnRecvWindow: 64 * 1024,
      eventStreamRecvWindow: 16 * 1024,
      onWarning: () => undefined,
    });
    try {
      const sub = await reader.subscribe('paused', { start: 'earliest', queueCapacity: 4 });
      const offsets: number[] = [];
      const iterator = (sub as AsyncIterable<FelixEvent>)[Symbol.asyncIterator]();
      // Bounded: a catch-up that never moves again fails here, saying how far it got.
      const deadline = Date.now() + 30_000;
      while (offsets.length < 4000 && Date.now() < deadline) {
        const next = await Promise.race([
          iterator.next(),
          new Promise<null>((r) => setTimeout(() => r(null), 5000)),
        ]);
        if (next === null) break;
        if (next.done === true) break;
        offsets.push(next.value.offset);
        if (offsets.length === 200) await new Promise((r) => setTimeout(r, 1800));
      }
      expect(offsets).toEqual(Array.from({ length: 4000 }, (_, i) => i));
      expect(sub.missed).toBe(0);
    } finally {
      await reader.close();
      await stopBroker(broker);
    }
  }, 60_000);
});

describe('durable streams: a read error during replay', () => {
  it('ends only the replaying subscription with storage_error; the stream, the broker and the data stay', async () => {
    const dir = storageDir();
    const broker = await startDurableBroker(dir, {
      FELIX_STREAM_REPLAY_CAPACITY: '16',
      FELIX_DURABLE_SEGMENT_BYTES: '16384',
    });
    const client = await RawClient.connect(broker);
    await publishAll(client, 'unreadable', 'u', 2000, 100);
    await publishAll(client, 'neighbour', 'n', 50);
    const segments = segmentFiles(dir, 'unreadable');
    expect(segments.length).toBeGreaterThan(6);
    // A sealed segment in the middle becomes unreadable for real: its path now names a directory, so the
    // broker's read(2) of it fails (EISDIR) as a failing disk's would (EIO), while the data waits aside.
    const broken = join(streamDir(dir, 'unreadable'), segments[3]!);
    fs.renameSync(broken, `${broken}.aside`);
    fs.mkdirSync(broken);

    const reader = await RawClient.connect(broker);
    expect((await reader.subscribe('unreadable', 1, 'earliest')).type).toBe('subscribed');
    await until(
      () => reader.control.frames.some((f) => 'type' in f && f.type === 'error'),
      'the error ending the replay',
    );
    const error = reader.control.frames.find((f) => 'type' in f && f.type === 'error') as unknown as {
      code: string;
      message: string;
    };
    expect(error.code).toBe('storage_error');
    expect(error.message).toMatch(/subscription 1 ended/);
    // What it got before the error is the log's start, in order, up to the bad segment: all of it (the
    // events read before the failure are delivered, and the event stream ends after them, not reset).
    const holeStart = Number(segments[3]!.replace(/\.log$/, ''));
    await until(() => reader.received(1).length >= holeStart, 'the events before the bad segment');
    const got = reader.received(1);
    expect(got.every((e, i) => e.offset === i && e.payload.startsWith(`u-${e.offset}.`))).toBe(true);
    expect(got.length).toBe(holeStart);

    // The broker, the stream and its neighbour go on: acked publishes, live delivery, other replays.
    expect(broker.child.exitCode).toBe(null);
    await publishAll(client, 'unreadable', 'later', 3);
    const neighbour = await readUntil(reader, 'neighbour', 2, new Set(['n-0', 'n-49']));
    expect(contiguousFromZero(neighbour)).toBe(true);
    const tail = await RawClient.connect(broker);
    expect((await tail.subscribe('unreadable', 3, { offset: 1990 })).type).toBe('subscribed');
    await until(() => tail.received(3).some((e) => e.offset === 2002), 'the tail past the hole');

    // Nothing was lost: with the segment readable again, a replay from earliest has every event.
    fs.rmdirSync(broken);
    fs.renameSync(`${broken}.aside`, broken);
    const { events } = await (await RawClient.connect(broker)).readLog('unreadable', 4, 2003);
    expect(events.length).toBe(2003);
    expect(contiguousFromZero(events)).toBe(true);
    await stopBroker(broker);
  }, 60_000);
});

describe('durable streams: retention', () => {
  it('removes the oldest segments beyond FELIX_DURABLE_RETENTION_BYTES; subscribers start at the oldest kept', async () => {
    const dir = storageDir();
    const broker = await startDurableBroker(dir, {
      FELIX_STREAM_REPLAY_CAPACITY: '16',
      FELIX_DURABLE_SEGMENT_BYTES: '8192',
      FELIX_DURABLE_RETENTION_BYTES: '32768',
    });
    const client = await RawClient.connect(broker);
    await publishAll(client, 'capped', 'c', 1500, 100);
    await until(() => segmentBytes(dir, 'capped') <= 32768, 'retention to bring the log under 32 KiB');
    expect(segmentFiles(dir, 'capped')[0]).not.toBe('00000000000000000000.log');
    const tooOld = await client.subscribe('capped', 1, { offset: 0 });
    expect(tooOld).toMatchObject({ type: 'subscribe_cursor_error', reason: 'too_old' });
    const oldest = tooOld.available as number;
    expect(oldest).toBeGreaterThan(0);
    const { events } = await client.readLog('capped', 2, 1500);
    expect(events[0]!.offset).toBeLessThanOrEqual(oldest);
    const kept = events.filter((e) => e.offset >= oldest);
    expect(kept.map((e) => e.offset)).toEqual(Array.from({ length: 1500 - oldest }, (_, i) => oldest + i));
    await stopBroker(broker);
  }, 60_000);

  it('removes data older than FELIX_DURABLE_RETENTION_MS, except on a stream whose YAML says otherwise', async () => {
    const dir = storageDir();
    const config = yamlFile(
      dir,
      [
        'tenants:',
        `  ${TENANT}:`,
        '    namespaces:',
        `      ${NAMESPACE}:`,
        '        streams:',
        '          - { name: kept, durable: true, retention_ms: 0 }',
        '          - { name: aged, durable: true }',
      ].join('\n'),
    );
    const broker = await startDurableBroker(join(dir, 'data'), {
      FELIX_BROKER_CONFIG: config,
      FELIX_DURABLE_DEFAULT: '0',
      FELIX_DURABLE_RETENTION_MS: '800',
      FELIX_STREAM_REPLAY_CAPACITY: '16',
    });
    const client = await RawClient.connect(broker);
    await publishAll(client, 'aged', 'a', 200);
    await publishAll(client, 'kept', 'k', 200);
    const data = join(dir, 'data');
    await until(() => segmentBytes(data, 'aged') === 0, 'the aged stream emptied by retention');
    expect(segmentBytes(data, 'kept')).toBeGreaterThan(0);
    // What retention removed is gone, though the ring (16 events) still holds the frames of the last of it.
    for (const [id, offset] of [
      [1, 0],
      [3, 199],
    ] as const) {
      expect(await client.subscribe('aged', id, { offset })).toMatchObject({
        type: 'subscribe_cursor_error',
        reason: 'too_old',
        available: 200,
      });
    }
    // Offsets go on where they were; from earliest, only what came after retention.
    await publishAll(client, 'aged', 'a2', 8);
    const { events: after } = await client.readLog('aged', 4, 208);
    expect(after.map((e) => e.offset)).toEqual(Array.from({ length: 8 }, (_, i) => 200 + i));
    // The kept stream still serves everything.
    const { events } = await client.readLog('kept', 2, 200);
    expect(contiguousFromZero(events)).toBe(true);
    await stopBroker(broker);
  }, 60_000);
});

describe('durable streams: recovery', () => {
  const ACK_ON_COMMIT = { FELIX_DURABLE_FSYNC: 'on_commit', FELIX_ACK_ON_COMMIT: '1' };

  /**
   * 100 acked events of 50 bytes (tagged `tag`) on `stream`, the broker stopped (`stop`): its last segment
   * file.
   */
  async function stoppedWith100(
    dir: string,
    stream: string,
    tag: string,
    stop: (broker: BrokerProcess) => Promise<void> = stopBroker,
  ): Promise<string> {
    const broker = await startDurableBroker(dir, ACK_ON_COMMIT);
    const client = await RawClient.connect(broker);
    await publishAll(client, stream, tag, 100, 50);
    await stop(broker);
    const files = segmentFiles(dir, stream);
    return join(streamDir(dir, stream), files[files.length - 1]!);
  }

  it('truncates a torn tail at start (with a log line), serves what came before, and continues the offsets', async () => {
    const dir = storageDir();
    const env = ACK_ON_COMMIT;
    // Killed, and the file cut 30 bytes into its last record, as a crash in the middle of a write would
    // leave it. (With acks and delivery waiting for commits, that record's offsets were never seen: they
    // are given out again. After a clean stop the cut would be damage to what subscribers had seen, and
    // the offsets would continue above it: offset-reservation.test.ts.)
    const file = await stoppedWith100(dir, 'torn', 't', killBroker);
    const size = fs.statSync(file).size;
    fs.truncateSync(file, size - 30);
    const again = await startDurableBroker(dir, env);
    const line = await logLine(again, 'durable stream: torn tail truncated');
    expect(line).toMatchObject({ stream: `${TENANT}/${NAMESPACE}/torn` });
    expect(line.truncatedBytes).toBeGreaterThan(0);
    const reader = await RawClient.connect(again);
    const end = await reader.nextOffset('torn', 1);
    expect(end).toBeLessThan(100);
    expect(end).toBeGreaterThan(0);
    const { events } = await reader.readLog('torn', 2, end);
    expect(contiguousFromZero(events)).toBe(true);
    expect(events.every((e) => e.payload.startsWith(`t-${e.offset}.`))).toBe(true);
    await publishAll(reader, 'torn', 'next', 1);
    await until(() => reader.received(2).some((e) => e.payload === 'next-0'), 'the next event');
    expect(reader.received(2).find((e) => e.payload === 'next-0')!.offset).toBe(end);
    await stopBroker(again);
  }, 60_000);

  it('keeps the acked records after a damaged one in the last segment, and never gives its offsets out again', async () => {
    const dir = storageDir();
    const env = ACK_ON_COMMIT;
    const file = await stoppedWith100(dir, 'rot', 'r');
    // One byte flipped in the middle of the file, as media rot would: the records around it are whole.
    const fd = fs.openSync(file, 'r+');
    const middle = Math.floor(fs.statSync(file).size / 2);
    const byte = Buffer.alloc(1);
    fs.readSync(fd, byte, 0, 1, middle);
    byte[0] = byte[0]! ^ 0xff;
    fs.writeSync(fd, byte, 0, 1, middle);
    fs.closeSync(fd);
    const again = await startDurableBroker(dir, env);
    const line = await logLine(
      again,
      'durable stream: damaged records in the last segment skipped; the whole records after them kept',
    );
    expect(line).toMatchObject({ stream: `${TENANT}/${NAMESPACE}/rot`, holes: 1, nextOffset: 100 });
    expect(again.logs.some((l) => l.msg === 'durable stream: torn tail truncated')).toBe(false);
    const reader = await RawClient.connect(again);
    expect(await reader.nextOffset('rot', 1)).toBe(100);
    const { events } = await reader.readLog('rot', 2, 100);
    // Everything but the damaged record's events (one batch frame: one run of offsets, wherever the flip
    // fell), each payload the one published at its offset, the records after the damage included.
    expect(events.every((e) => e.payload.startsWith(`r-${e.offset}.`))).toBe(true);
    const served = new Set(events.map((e) => e.offset));
    const missing = Array.from({ length: 100 }, (_, i) => i).filter((o) => !served.has(o));
    expect(missing.length).toBeGreaterThan(0);
    expect(missing.at(-1)! - missing[0]! + 1).toBe(missing.length);
    expect(events.at(-1)!.offset).toBe(99);
    await publishAll(reader, 'rot', 'after', 1);
    await until(() => reader.received(2).some((e) => e.payload === 'after-0'), 'the next event');
    expect(reader.received(2).find((e) => e.payload === 'after-0')!.offset).toBe(100);
    await stopBroker(again);
  }, 60_000);
});

describe('durable streams: a segment lost under the log', () => {
  it('serves a replay across a sealed segment emptied before a start or deleted while running, then live events', async () => {
    const env = {
      FELIX_DURABLE_FSYNC: 'on_commit',
      FELIX_ACK_ON_COMMIT: '1',
      FELIX_DURABLE_SEGMENT_BYTES: '4096',
      // The ring holds little: a replay from earliest is read from the log.
      FELIX_STREAM_REPLAY_CAPACITY: '16',
    };
    for (const when of ['emptied before a start', 'deleted while running'] as const) {
      const dir = storageDir();
      let broker = await startDurableBroker(dir, env);
      let client = await RawClient.connect(broker);
      await publishAll(client, 'holed', 'h', 300, 50);
      // A sealed segment in the middle (the last is the active one, whose loss is a torn tail).
      const files = segmentFiles(dir, 'holed');
      expect(files.length).toBeGreaterThanOrEqual(3);
      const victim = join(streamDir(dir, 'holed'), files[1]!);
      if (when === 'emptied before a start') {
        await stopBroker(broker);
        fs.truncateSync(victim, 0);
        broker = await startDurableBroker(dir, env);
        client = await RawClient.connect(broker);
      } else {
        fs.rmSync(victim);
      }
      const reply = await client.subscribe('holed', 2, 'earliest');
      expect(reply.type, when).toBe('subscribed');
      // The rest of the log, past the hole, then what is published live: nothing waits on the hole.
      await publishAll(client, 'holed', 'live', 3);
      await until(() => client.received(2).some((e) => e.payload === 'live-2'), `${when}: the live events`);
      const offsets = client.received(2).map((e) => e.offset);
      expect(offsets[0], when).toBe(0);
      expect(offsets.at(-1), when).toBe(302);
      expect(
        [...offsets].sort((a, b) => a - b),
        when,
      ).toEqual(offsets);
      // The hole is one run of offsets, announced as a gap by the offsets themselves.
      const missing = Array.from({ length: 303 }, (_, i) => i).filter((o) => !offsets.includes(o));
      expect(missing.length, when).toBeGreaterThan(0);
      expect(missing.at(-1)! - missing[0]! + 1, when).toBe(missing.length);
      if (when === 'deleted while running') {
        await logLine(broker, 'unreadable segment skipped: its offsets are a gap to subscribers');
        expect(await brokerMetric(broker, 'felix_storage_unreadable_segments_total')).toBe(1);
      }
      await stopBroker(broker);
    }
  }, 90_000);
});

describe('durable streams: a full disk', () => {
  const mounted: string[] = [];
  afterEach(() => {
    for (const m of mounted.splice(0)) execFileSync('umount', ['-l', m]);
  });

  it('refuses publishes with storage_full, keeps serving reads and other streams, loses nothing acked', async () => {
    const root = storageDir();
    const data = join(root, 'disk');
    fs.mkdirSync(data);
    const env: Record<string, string> = {
      FELIX_BROKER_CONFIG: yamlFile(
        root,
        [
          'tenants:',
          `  ${TENANT}:`,
          '    namespaces:',
          `      ${NAMESPACE}:`,
          '        streams: [{ name: big, durable: true }, other]',
        ].join('\n'),
      ),
      FELIX_DURABLE_FSYNC: 'on_commit',
      FELIX_ACK_ON_COMMIT: '1',
      FELIX_AUTO_CREATE_STREAMS: '0',
      // Only `big` is durable: `other` lives in memory, so the full disk cannot touch it.
      FELIX_DURABLE_DEFAULT: '0',
    };
    const filler = join(data, 'filler');
    const release = join(root, 'release');
    let how: string;
    try {
      // FELIX_TEST_NO_MOUNT=1 exercises the injected path on a machine that could mount.
      if (process.env.FELIX_TEST_NO_MOUNT === '1') throw new Error('mounting disabled');
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', data], { stdio: 'ignore' });
      mounted.push(data);
      fs.writeFileSync(filler, Buffer.alloc(256 * 1024));
      how = 'a 2 MiB tmpfs mounted by the test';
    } catch {
      env.NODE_OPTIONS = `--import ${fileURLToPath(new URL('./fixtures/enospc-preload.mjs', import.meta.url))}`;
      env.FELIX_TEST_ENOSPC_AFTER_BYTES = String(1536 * 1024);
      env.FELIX_TEST_ENOSPC_RELEASE = release;
      how = 'an injected ENOSPC (no tmpfs mount possible here)';
    }
    process.stdout.write(`disk full test: ${how}\n`);
    const broker = await startDurableBroker(data, env);
    const client = await RawClient.connect(broker);
    const p = new Publisher(client, 'big', 'b', 8, 4, Number.MAX_SAFE_INTEGER, 4000);
    await until(() => p.refused.length > 0, 'a publish refused for a full disk');
    await p.settle();
    expect(p.refused[0]!.code).toBe('storage_full');
    // The first refusals answer acks that waited for the failed write: those events may still be written
    // once a retried write succeeds. A publish refused while the stream refuses was not taken at all.
    expect(p.refused[0]!.retry).toBe('outcome_unknown');
    for (const r of p.refused) expect(['outcome_unknown', 'retry_after']).toContain(r.retry);
    const early = new Publisher(client, 'big', 'early', 1, 1, 1, 10);
    await early.finish();
    // Refused before anything was taken: try again after the broker's next retry of the write (every second).
    expect(early.refused).toEqual([
      expect.objectContaining({
        code: 'storage_full',
        retry: 'retry_after',
        detail: { retry_after_ms: 1000 },
      }),
    ]);
    expect(p.acked.length).toBeGreaterThan(0);
    // Reads go on: every acked event is there, in order.
    const reader = await RawClient.connect(broker);
    const acked = new Set(p.acked);
    const events = await readUntil(reader, 'big', 2, acked);
    expect(contiguousFromZero(events)).toBe(true);
    // Other streams go on.
    await publishAll(reader, 'other', 'o', 16);
    // Space comes back: within a retry or two the stream takes publishes again.
    if (mounted.length > 0) fs.rmSync(filler);
    else fs.writeFileSync(release, '');
    let accepted = false;
    for (let attempt = 0; attempt < 50 && !accepted; attempt++) {
      const probe = new Publisher(client, 'big', `again${attempt}`, 1, 1, 1, 10);
      await probe.finish();
      accepted = probe.acked.length === 1;
      if (!accepted) await new Promise((r) => setTimeout(r, 200));
    }
    expect(accepted, 'publishes accepted again once space was freed').toBe(true);
    await stopBroker(broker);
    // Nothing acked is lost across a restart either.
    const again = await startDurableBroker(data, env);
    const check = await RawClient.connect(again);
    expect(contiguousFromZero(await readUntil(check, 'big', 2, acked))).toBe(true);
    await stopBroker(again);
  }, 90_000);
});

describe('durable streams: configuration', () => {
  it('refuses to start with durable streams but no FELIX_DURABLE_STORAGE_DIR, naming the setting', async () => {
    const { code, stderr } = await runBrokerExpectingFailure({ FELIX_DURABLE_DEFAULT: '1' });
    expect(code).toBe(2);
    expect(stderr).toContain('FELIX_DURABLE_STORAGE_DIR');
  });
});
