// What the broker does at start with a durable stream whose files were lost or damaged outside it: the
// stream's data is never dropped, served as a new stream from offset 0, or created afresh over the old files.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, type TestContext } from 'vitest';
import { until } from '../broker/raw-client.js';
import { runBrokerExpectingFailure, type BrokerProcess } from '../e2e/broker-process.js';
import {
  NAMESPACE,
  brokerMetric,
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

/** A file's state, to show the broker left it alone: its kind and, for a file, its bytes. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of fs.readdirSync(dir).sort()) {
    const path = join(dir, name);
    out[name] = fs.statSync(path).isFile() ? fs.readFileSync(path).toString('base64') : 'directory';
  }
  return out;
}

describe('durable streams: damaged files at start', () => {
  const damages: [string, (streamPath: string) => string][] = [
    ['a zero-length stream.json', (d) => (fs.writeFileSync(join(d, 'stream.json'), ''), 'stream.json')],
    ['a stream.json of garbage', (d) => (fs.writeFileSync(join(d, 'stream.json'), '{"ep'), 'stream.json')],
    [
      // Which offsets were given out is unknown: refused rather than risk giving one out twice.
      'a reservation.json of garbage',
      (d) => (fs.writeFileSync(join(d, 'reservation.json'), '{"reserved_to":'), 'reservation.json'),
    ],
    [
      'a directory as stream.json',
      (d) => {
        fs.rmSync(join(d, 'stream.json'));
        fs.mkdirSync(join(d, 'stream.json'));
        return 'stream.json';
      },
    ],
    [
      'a directory as the last segment',
      (d) => {
        const last = fs
          .readdirSync(d)
          .filter((n) => n.endsWith('.log'))
          .sort()
          .at(-1)!;
        fs.rmSync(join(d, last));
        fs.mkdirSync(join(d, last));
        return last;
      },
    ],
  ];

  it.each(damages.map(([what, damage], i) => ({ what, damage, durableDefault: String(i % 2) })))(
    '$what: the broker starts and serves the other streams; the damaged one is refused, its files untouched (FELIX_DURABLE_DEFAULT=$durableDefault)',
    async ({ damage, durableDefault }) => {
      const dir = storageDir();
      await storedStreams(dir, ['good', 'bad'], 50);
      const bad = streamDir(dir, 'bad');
      const file = damage(bad);
      const before = snapshot(bad);
      const broker = await startDurableBroker(dir, {
        ...ACK_ON_COMMIT,
        FELIX_DURABLE_DEFAULT: durableDefault,
      });
      const line = await logLine(
        broker,
        'durable stream: damaged files; the stream is refused until they are repaired (the other streams are served)',
      );
      expect(line).toMatchObject({ stream: `${TENANT}/${NAMESPACE}/bad`, path: join(bad, file), level: 50 });
      expect(line.problem).toEqual(expect.any(String));
      const client = await RawClient.connect(broker);
      // The other stream: recovered, served and writable.
      const { events } = await client.readLog('good', 1, 50);
      expect(events.every((e) => e.payload === `good-${e.offset}`)).toBe(true);
      await publishAll(client, 'good', 'more', 8);
      // The damaged one: refused, publishing and subscribing, naming the file; never created afresh.
      const p = new Publisher(client, 'bad', 'new', 1, 1, 1);
      await p.finish();
      expect(p.acked).toEqual([]);
      expect(p.refused[0]).toMatchObject({ code: 'storage_error' });
      expect(p.refused[0]!.message).toContain(file);
      const reply = await client.subscribe('bad', 2, 'earliest');
      expect(reply.type).toBe('error');
      expect(reply.code).toBe('storage_error');
      await stopBroker(broker);
      expect(snapshot(bad)).toEqual(before);
    },
    60_000,
  );
});

describe('durable streams: a storage directory that cannot be used', () => {
  it('stops the start with one line naming the setting and the path, exit status 2', async () => {
    const path = join(storageDir(), 'a-file');
    fs.writeFileSync(path, 'not a directory\n');
    const { code, stderr } = await runBrokerExpectingFailure({
      FELIX_AUTH: 'none',
      FELIX_DURABLE_STORAGE_DIR: path,
      FELIX_DURABLE_DEFAULT: '1',
      // The reset key's own file would be the first to fail in that directory.
      FELIX_RESET_KEY: '00112233445566778899aabbccddeeff',
    });
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toEqual([
      `felix-broker: Cannot use FELIX_DURABLE_STORAGE_DIR (${path}): exists and is not a directory (EEXIST).`,
    ]);
  }, 30_000);
});

describe('durable streams: junk named like a segment', () => {
  it('sets it aside with a warning instead of moving the offsets to its name', async () => {
    const dir = storageDir();
    await storedStreams(dir, ['s'], 50);
    const junk = join(streamDir(dir, 's'), '00000000000000099999.log');
    fs.writeFileSync(junk, 'junk!');
    const broker = await startDurableBroker(dir, ACK_ON_COMMIT);
    const line = await logLine(
      broker,
      'durable stream: a last segment holding no record where the log ended set aside',
    );
    expect(line).toMatchObject({
      stream: `${TENANT}/${NAMESPACE}/s`,
      path: `${junk}.damaged`,
      nextOffset: 50,
    });
    const client = await RawClient.connect(broker);
    expect(await client.nextOffset('s', 1)).toBe(50);
    await stopBroker(broker);
    expect(fs.readFileSync(`${junk}.damaged`, 'utf8')).toBe('junk!');
  }, 60_000);
});

// A sealed segment lost from the middle of the log (a bad copy or restore, a stray rm) between runs: its
// offsets are a gap to subscribers, which the start must report — the alert on storage error counters
// must see it — while the gaps an unclean stop leaves between segments on purpose are not reported.
const MISSING =
  'durable stream: offsets missing between its segments (a segment file lost): a gap to subscribers';
const UNENDED =
  'durable stream: a sealed segment does not end with a whole record (cut short or damaged): ' +
  'readers skip the damage, a gap to subscribers';
/** Segments of one record each: a write that would take a segment past 4 KiB starts the next. */
const SMALL_SEGMENTS = { FELIX_DURABLE_SEGMENT_BYTES: '4KiB' };

/** 80 events acked in records of 8 × 300 bytes, each record a segment of its own; the broker stopped. */
async function storedInSmallSegments(dir: string, stream: string): Promise<void> {
  const broker = await startDurableBroker(dir, { ...ACK_ON_COMMIT, ...SMALL_SEGMENTS });
  const client = await RawClient.connect(broker);
  const p = new Publisher(client, stream, stream[0]!, 8, 1, 80, 300);
  await p.finish();
  expect(p.acked).toHaveLength(80);
  await stopBroker(broker);
}

/** Reads the stream through: every event but those of the segment at 40 (offsets 40–47); stops the broker. */
async function expectServedAroundTheGap(broker: BrokerProcess, stream: string): Promise<void> {
  const client = await RawClient.connect(broker);
  const { events } = await client.readLog(stream, 1, 80);
  expect(events.map((e) => e.offset)).toEqual([...range(0, 40), ...range(48, 80)]);
  await stopBroker(broker);
}

describe('durable streams: a segment missing from the middle of the log at start', () => {
  it('is logged at error level with its offsets and counted; the rest is served around the gap', async () => {
    const dir = storageDir();
    await storedInSmallSegments(dir, 'holey');
    const lost = join(streamDir(dir, 'holey'), '00000000000000000040.log');
    expect(fs.existsSync(join(streamDir(dir, 'holey'), '00000000000000000048.log'))).toBe(true);
    fs.rmSync(lost);

    const broker = await startDurableBroker(dir, { ...ACK_ON_COMMIT, ...SMALL_SEGMENTS });
    const line = await logLine(broker, MISSING);
    expect(line).toMatchObject({ level: 50, stream: `${TENANT}/${NAMESPACE}/holey`, from: 40, to: 48 });
    expect(await brokerMetric(broker, 'felix_storage_offsets_missing_total')).toBe(8);
    // The live dashboard shows it too, beside the other damage found at start.
    expect(await dashboardStorage(broker)).toMatchObject({
      offsetsMissing: 8,
      offsetsSkipped: 0,
      damagedSegments: 0,
      tornTails: 0,
    });
    await expectServedAroundTheGap(broker, 'holey');
  }, 60_000);

  it('reports a sealed segment cut in the middle of its record, and serves the rest around it', async () => {
    const dir = storageDir();
    await storedInSmallSegments(dir, 'cut');
    const cut = join(streamDir(dir, 'cut'), '00000000000000000040.log');
    fs.truncateSync(cut, fs.statSync(cut).size - 100);

    const broker = await startDurableBroker(dir, { ...ACK_ON_COMMIT, ...SMALL_SEGMENTS });
    const line = await logLine(broker, UNENDED);
    expect(line).toMatchObject({ level: 50, stream: `${TENANT}/${NAMESPACE}/cut`, path: cut });
    expect(await brokerMetric(broker, 'felix_storage_damaged_segments_total')).toBe(1);
    // Not also reported as a lost segment: where its records end cannot be told.
    expect(await brokerMetric(broker, 'felix_storage_offsets_missing_total')).toBe(0);
    await expectServedAroundTheGap(broker, 'cut');
  }, 60_000);

  it('is not reported for the offsets an unclean stop skipped between segments', async () => {
    const dir = storageDir();
    const env = { FELIX_DURABLE_FSYNC: 'periodic', FELIX_ACK_ON_COMMIT: '0', ...SMALL_SEGMENTS };
    let broker = await startDurableBroker(dir, env);
    let client = await RawClient.connect(broker);
    const before = new Publisher(client, 'skips', 'a', 8, 1, 40, 300);
    await before.finish();
    await killBroker(broker);
    // The restart continues at the reservation mark, in a segment of its own, past a gap.
    broker = await startDurableBroker(dir, env);
    await logLine(broker, UNCLEAN);
    client = await RawClient.connect(broker);
    const after = new Publisher(client, 'skips', 'b', 8, 1, 16, 300);
    await after.finish();
    await stopBroker(broker);

    broker = await startDurableBroker(dir, env);
    await logLine(broker, 'durable stream recovered');
    expect(broker.logs.filter((l) => l.msg === MISSING || l.msg === UNENDED)).toEqual([]);
    expect(await brokerMetric(broker, 'felix_storage_offsets_missing_total')).toBe(0);
    expect(await brokerMetric(broker, 'felix_storage_damaged_segments_total')).toBe(0);
    await stopBroker(broker);
  }, 60_000);
});

// The last segment lost after a clean stop with every event acked on commit: a start that took its
// reservation mark for an unclean stop's would call lost records a crash's skip (a warning) and hide them
// from the alert on offsets missing.
const MISSING_AT_END =
  'durable stream: offsets missing at the end of its log, which held them when it was stopped cleanly ' +
  '(its last segment lost or cut short since): a gap to subscribers, never reused';

describe('durable streams: the end of the log lost after a clean stop', () => {
  it.each([
    ['removed', (path: string) => fs.rmSync(path)],
    ['emptied', (path: string) => fs.truncateSync(path, 0)],
  ])(
    'the last segment %s: offsets missing at error level, not an unclean stop; the stream goes on past them',
    async (_, damage) => {
      const dir = storageDir();
      await storedInSmallSegments(dir, 'tail');
      damage(join(streamDir(dir, 'tail'), '00000000000000000072.log'));

      let broker = await startDurableBroker(dir, { ...ACK_ON_COMMIT, ...SMALL_SEGMENTS });
      const line = await logLine(broker, MISSING_AT_END);
      expect(line).toMatchObject({
        level: 50,
        stream: `${TENANT}/${NAMESPACE}/tail`,
        logEnd: 72,
        nextOffset: 80,
      });
      expect(broker.logs.some((l) => l.msg === UNCLEAN)).toBe(false);
      expect(await brokerMetric(broker, 'felix_storage_offsets_missing_total')).toBe(8);
      expect(await brokerMetric(broker, 'felix_storage_offsets_skipped_total')).toBe(0);
      const client = await RawClient.connect(broker);
      expect(await client.nextOffset('tail', 1)).toBe(80);
      await stopBroker(broker);

      // Reported once: the gap is recorded, and a later start finds the log as the last one left it.
      broker = await startDurableBroker(dir, { ...ACK_ON_COMMIT, ...SMALL_SEGMENTS });
      await logLine(broker, 'durable stream recovered');
      expect(broker.logs.some((l) => l.msg === MISSING_AT_END || l.msg === MISSING)).toBe(false);
      await stopBroker(broker);
    },
    60_000,
  );
});

describe('durable streams: a record damaged in a sealed segment (bit rot)', () => {
  it('is skipped by a reader, logged with where the read found it, and counted; the rest is served', async () => {
    const dir = storageDir();
    // Records of 8 × 300 bytes, several to a 16 KiB segment: the first one's body gets a flipped byte.
    const segments = { ...ACK_ON_COMMIT, FELIX_DURABLE_SEGMENT_BYTES: '16KiB' };
    let broker = await startDurableBroker(dir, segments);
    const p = new Publisher(await RawClient.connect(broker), 'rot', 'r', 8, 1, 80, 300);
    await p.finish();
    expect(p.acked).toHaveLength(80);
    await stopBroker(broker);
    const first = join(streamDir(dir, 'rot'), '00000000000000000000.log');
    const bytes = fs.readFileSync(first);
    bytes[200] ^= 0xff;
    fs.writeFileSync(first, bytes);

    broker = await startDurableBroker(dir, segments);
    const client = await RawClient.connect(broker);
    const { events } = await client.readLog('rot', 1, 80);
    expect(events.map((e) => e.offset)).toEqual(range(8, 80));
    const line = await logLine(broker, 'damaged record skipped');
    expect(line).toMatchObject({
      level: 50,
      stream: `${TENANT}/${NAMESPACE}/rot`,
      records: 1,
      from: 0,
    });
    // The read that found it went on past it (a chunk of records): the skipped offsets lie in between.
    expect(line.next).toBeGreaterThanOrEqual(8);
    expect(await brokerMetric(broker, 'felix_storage_corrupt_records_total')).toBe(1);
    await stopBroker(broker);
  }, 60_000);
});

describe('durable streams: a read-only storage directory', () => {
  it("refuses a new stream's publishes naming the real cause (EROFS), not ENOENT", async (context) => {
    const dir = tmpfsStorage('size=1m,ro', context);
    try {
      // Its reset key from the environment: none is written under the storage directory.
      const broker = await startDurableBroker(dir, { FELIX_RESET_KEY: '0123456789abcdef'.repeat(2) });
      const p = new Publisher(await RawClient.connect(broker), 'fresh', 'f', 1, 1, 1);
      await p.settle();
      expect(p.acked).toEqual([]);
      expect(p.refused[0]?.message).toContain("the stream's files could not be opened (EROFS)");
      await stopBroker(broker);
    } finally {
      execFileSync('umount', ['-l', dir]);
    }
  }, 60_000);

  it('serves an existing stream read-only: every event from earliest, publishes refused naming EROFS', async (context) => {
    const dir = tmpfsStorage('size=4m', context);
    const env = { FELIX_RESET_KEY: '0123456789abcdef'.repeat(2) };
    try {
      const writer = await startDurableBroker(dir, env);
      const p = new Publisher(await RawClient.connect(writer), 'kept', 'k', 4, 4, 40);
      await p.finish();
      expect(p.acked).toHaveLength(40);
      await stopBroker(writer);
      // A torn tail too: recovery would cut it, which a read-only file system does not allow.
      const kept = streamDir(dir, 'kept');
      const segment = join(
        kept,
        fs
          .readdirSync(kept)
          .filter((f) => f.endsWith('.log'))
          .sort()
          .at(-1)!,
      );
      fs.appendFileSync(segment, Buffer.from([0, 0, 0, 9, 1, 2]));
      const before = snapshot(kept);
      // What a file system remounted read-only after I/O errors looks like to the next start.
      execFileSync('mount', ['-o', 'remount,ro', dir]);

      const broker = await startDurableBroker(dir, env);
      const client = await RawClient.connect(broker);
      const { events, reply } = await client.readLog('kept', 1, 40);
      expect(reply.type).toBe('subscribed');
      expect(events.map((e) => e.payload)).toEqual(p.acked);
      const refused = new Publisher(client, 'kept', 'r', 1, 1, 1);
      await refused.finish();
      expect(refused.acked).toEqual([]);
      expect(refused.refused[0]?.code).toBe('storage_error');
      expect(refused.refused[0]?.message).toContain('EROFS');
      const logged = broker.logs.map((l) => l.msg).join('\n');
      expect(logged).toContain("a stream's files cannot be written: served read-only");
      expect(logged).toContain('torn tail found; left in its file (read-only)');
      expect(logged).not.toContain('damaged files');
      expect(await brokerMetric(broker, 'felix_storage_streams_refusing')).toBe(1);
      await stopBroker(broker);
      expect(snapshot(kept)).toEqual(before);
    } finally {
      execFileSync('umount', ['-l', dir]);
    }
  }, 60_000);
});

/** The `storage` of the first snapshot the broker's dashboard event stream sends. */
async function dashboardStorage(broker: BrokerProcess): Promise<Record<string, unknown>> {
  const res = await fetch(`http://127.0.0.1:${broker.httpPort}/dashboard/events`);
  const reader = res.body!.getReader();
  let text = '';
  let data: RegExpExecArray | null = null;
  while ((data = /^data: (.*)$/m.exec(text)) === null) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the event stream ended before a snapshot: ${text}`);
    text += Buffer.from(value).toString('utf8');
  }
  await reader.cancel();
  return (JSON.parse(data[1]!) as { storage: Record<string, unknown> }).storage;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

describe('durable streams: a full disk leaves no temporary files', () => {
  it('removes what a failed rewrite began (producer journal at start, offset reservation at the stop)', async (context) => {
    const dir = tmpfsStorage('size=2m', context);
    const env = { FELIX_RESET_KEY: '0123456789abcdef'.repeat(2) };
    try {
      const writer = await startDurableBroker(dir, env);
      // An idempotent producer, so that the stream keeps a producer journal (rewritten at every start).
      const p = new Publisher(await RawClient.connect(writer), 'full', 'f', 4, 4, 40, 0, 7);
      await p.finish();
      expect(p.acked).toHaveLength(40);
      await stopBroker(writer);
      const full = streamDir(dir, 'full');
      expect(fs.readdirSync(full)).toContain('producers.journal');
      fillUp(join(dir, 'filler'));

      const broker = await startDurableBroker(dir, env);
      // The journal given up at start freed its space: full again.
      fillUp(join(dir, 'filler-2'));
      const client = await RawClient.connect(broker);
      // Published into the full disk (the last page of the segment may still take it): the stop then has
      // a reservation to write, and cannot.
      await new Publisher(client, 'full', 'r', 1, 1, 1).finish();
      await stopBroker(broker);
      const logged = broker.logs.map((l) => l.msg).join('\n');
      expect(logged).toContain('producer journal could not be opened');
      expect(logged).toContain('could not write its offset reservation');
      expect(fs.readdirSync(full).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    } finally {
      execFileSync('umount', ['-l', dir]);
    }
  }, 60_000);
});

/**
 * A storage directory on a tmpfs of its own, mounted with `options` (unmounted by the test's finally): a
 * full or read-only disk for real. Skips the test, saying why, where mount is not allowed.
 */
function tmpfsStorage(options: string, context: TestContext): string {
  const dir = storageDir();
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    console.warn('skipped: no tmpfs can be mounted here (mount needs privileges this run lacks)');
    context.skip();
  }
  return dir;
}

/** Writes `path` until the file system is full. */
function fillUp(path: string): void {
  const fd = fs.openSync(path, 'w');
  try {
    for (;;) fs.writeSync(fd, Buffer.alloc(64 * 1024));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    fs.closeSync(fd);
  }
}
