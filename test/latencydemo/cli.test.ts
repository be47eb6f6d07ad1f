// Flags, defaults, the case lists of --matrix and --all, the publish plan, the payload stamp and the
// broker's environment: everything of the demo that needs no broker.
import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { brokerEnvironment, fanoutBatchConflict, felixVariables } from '../../latencydemo/broker-env.js';
import { listeningPort } from '../../broker/spawn.js';
import { planCases } from '../../latencydemo/cases.js';
import { parseCommandLine, type SettingDefaults } from '../../latencydemo/cli.js';
import { eventsPerStream, planStreams, streamName } from '../../latencydemo/publish-plan.js';
import { defaultPubWindow } from '../../latencydemo/publish-window.js';
import { usesAcks } from '../../latencydemo/publisher.js';
import { loadDemoSettings } from '../../latencydemo/settings.js';
import { allocatePayload, readSentAt, readSeq, STAMP_BYTES, writeStamp } from '../../latencydemo/stamp.js';

const defaults: SettingDefaults = {
  pubConns: 4,
  pubStreamsPerConn: 2,
  pubSharding: 'hash_stream',
  subConns: 1,
  largestMessageBytes: 16_776_192,
};
const parse = (...args: string[]) => parseCommandLine(args, defaults);

describe('latencydemo flags', () => {
  it("default to one case with Felix's settings", () => {
    const r = parse();
    expect(r.mode).toBe('single');
    expect(r.base).toEqual({
      warmup: 1000,
      total: 10000,
      payload: 0,
      fanout: 1,
      batch: 1,
      binary: false,
      idleMs: 2000,
      pubConns: 4,
      pubStreamsPerConn: 2,
      pubSharding: 'hash_stream',
      pubStreamCount: 1,
      subConns: 1,
      pubWindow: undefined,
    });
    expect(r).toMatchObject({ json: false, progress: false, broker: undefined });
  });

  it('take every Felix flag', () => {
    const r = parse(
      ...[
        '--warmup',
        '20',
        '--total',
        '200',
        '--payload',
        '256',
        '--fanout',
        '2',
        '--batch',
        '8',
        '--binary',
      ],
      ...['--idle-ms', '500', '--pub-conns', '1', '--pub-streams-per-conn', '3', '--pub-sharding', 'rr'],
      ...['--pub-stream-count', '2', '--sub-conns', '4', '--pub-window', '0', '--broker', '127.0.0.1:5000'],
      '--json',
      '--progress',
    );
    expect(r.base).toMatchObject({
      warmup: 20,
      total: 200,
      payload: 256,
      fanout: 2,
      batch: 8,
      binary: true,
      idleMs: 500,
      pubConns: 1,
      pubStreamsPerConn: 3,
      pubSharding: 'rr',
      pubStreamCount: 2,
      subConns: 4,
      pubWindow: 0,
    });
    expect(r).toMatchObject({ json: true, progress: true, broker: '127.0.0.1:5000' });
  });

  it('refuse values that do not parse instead of falling back', () => {
    for (const args of [
      ['--total', 'ten'],
      ['--fanout', '0'],
      ['--pub-sharding', 'random'],
      ['--batch', '-1'],
    ]) {
      expect(() => parse(...args)).toThrow(CommanderError);
    }
    expect(() => parse('--all', '--matrix')).toThrow(CommanderError);
    // --all sets these per case: given with it, they would be dropped without a word.
    for (const flag of ['--payload', '--fanout', '--batch', '--warmup', '--total']) {
      expect(() => parse('--all', flag, '2'), flag).toThrow(`${flag} and --all exclude each other`);
    }
  });

  it('read their publish and subscribe defaults from the client settings in effect', () => {
    expect(loadDemoSettings({}).defaults).toEqual(defaults);
    const env = { FELIX_PUB_CONN_POOL: '2', FELIX_SUB_CONNS: '3', FELIX_EVENT_SEND_WINDOW: '1MiB' };
    const loaded = loadDemoSettings(env);
    expect(loaded.defaults).toMatchObject({ pubConns: 2, subConns: 3 });
    expect(loaded.sendWindowBytes).toBe(1024 * 1024);
  });
});

describe('latencydemo cases', () => {
  it('--matrix crosses payloads and fanouts with Felix’s smaller defaults', () => {
    const r = parse('--matrix', '--payloads', '0,256', '--fanouts', '1,10,100');
    const cases = planCases(r);
    expect(cases.map((c) => c.name)).toEqual([
      'matrix/f1-b1-p0',
      'matrix/f10-b1-p0',
      'matrix/f100-b1-p0',
      'matrix/f1-b1-p256',
      'matrix/f10-b1-p256',
      'matrix/f100-b1-p256',
    ]);
    expect(cases[0]).toMatchObject({ warmup: 200, total: 2000 });
  });

  it("--all is Felix's sweep: 6 latency, 12 throughput and 2 scaling cases", () => {
    const cases = planCases(parse('--all', '--idle-ms', '100'));
    expect(cases).toHaveLength(20);
    expect(new Set(cases.map((c) => c.name)).size).toBe(20);
    expect(cases.filter((c) => c.name.startsWith('latency/'))).toHaveLength(6);
    expect(cases.filter((c) => c.name.startsWith('throughput/') && c.binary)).toHaveLength(6);
    expect(cases.slice(-2).map((c) => c.name)).toEqual([
      'scaling/f1-b64-p256-pc1x1',
      'scaling/f1-b64-p256-pc4x2',
    ]);
    expect(cases.every((c) => c.idleMs === 100)).toBe(true);
    expect(planCases(parse('--all', '--binary')).filter((c) => !c.binary)).toHaveLength(0);
  });

  it('size the publish window to about 1 MiB per subscriber, 2 to 16 batches, unless given', () => {
    expect(defaultPubWindow(64, 256)).toBe(16);
    expect(defaultPubWindow(64, 1024)).toBe(15);
    expect(defaultPubWindow(64, 4096)).toBe(3);
    expect(defaultPubWindow(1, 0)).toBe(16);
    expect(defaultPubWindow(1024, 4096)).toBe(2);
    const [sized] = planCases(parse('--batch', '64', '--payload', '4096'));
    expect(sized!.pubWindow).toBe(3);
    const [given] = planCases(parse('--batch', '64', '--payload', '4096', '--pub-window', '0'));
    expect(given!.pubWindow).toBe(0);
    // Wherever batches go unacknowledged: batch 1 with --binary, and --all's throughput and scaling cases.
    expect(planCases(parse('--binary', '--pub-window', '4'))[0]!.pubWindow).toBe(4);
    const all = planCases(parse('--all', '--pub-window', '4'));
    expect(all.filter((c) => c.batch === 64).every((c) => c.pubWindow === 4)).toBe(true);
  });

  it('acknowledge publishes only at batch 1 without --binary, as Felix', () => {
    expect(usesAcks({ batch: 1, binary: false })).toBe(true);
    expect(usesAcks({ batch: 1, binary: true })).toBe(false);
    expect(usesAcks({ batch: 8, binary: false })).toBe(false);
  });
});

describe('latencydemo publish plan', () => {
  it('rotates batches over the streams and counts each stream’s events', () => {
    expect(eventsPerStream(10, 1, 1)).toEqual([10]);
    expect(eventsPerStream(10, 4, 2)).toEqual([6, 4]);
    expect(eventsPerStream(200, 64, 3)).toEqual([72, 64, 64]);
    expect(eventsPerStream(5, 8, 3)).toEqual([5, 0, 0]);
    for (const [total, batch, streams] of [
      [10_000, 64, 3],
      [7, 2, 4],
      [1, 1, 1],
    ] as const) {
      expect(eventsPerStream(total, batch, streams).reduce((a, b) => a + b)).toBe(total);
    }
  });

  it("uses Felix's stream names, tagged on a shared broker", () => {
    expect(streamName(0, 1, undefined)).toBe('latency');
    expect(streamName(3, 2, undefined)).toBe('latency-1');
    expect(streamName(0, 1, 'ab12')).toBe('latency-ab12');
    expect(planStreams(20, 200, 8, 2, undefined)).toEqual([
      { name: 'latency-0', warmup: 12, measured: 104 },
      { name: 'latency-1', warmup: 8, measured: 96 },
    ]);
  });
});

describe('latencydemo payload stamp', () => {
  it('holds the send time and sequence number in 16 bytes ahead of the payload', () => {
    const payload = allocatePayload(0);
    expect(payload.byteLength).toBe(STAMP_BYTES);
    writeStamp(payload, 12345.678901, 4_000_000_000);
    expect(readSentAt(payload)).toBe(12345.678901);
    expect(readSeq(payload)).toBe(4_000_000_000);
    const plain = new Uint8Array(payload);
    expect(readSentAt(plain)).toBe(12345.678901);
    expect(readSeq(plain)).toBe(4_000_000_000);
  });
});

describe('latencydemo broker process', () => {
  it("starts the broker on ephemeral ports with the case's settings over the environment", () => {
    const base = { warmup: 20, total: 200, batch: 8 } as const;
    const env = brokerEnvironment(
      { PATH: '/bin', FELIX_FANOUT_BATCH: '2', FELIX_LOG_LEVEL: 'warn' },
      {
        ...parse().base,
        ...base,
      },
    );
    expect(env).toMatchObject({
      PATH: '/bin',
      FELIX_QUIC_BIND: '127.0.0.1:0',
      FELIX_BROKER_METRICS_BIND: '127.0.0.1:0',
      FELIX_FANOUT_BATCH: '8',
      FELIX_SUB_QUEUE_CAPACITY: '1024',
      FELIX_LOG_LEVEL: 'info',
    });
    const kept = brokerEnvironment(
      { FELIX_SUB_QUEUE_CAPACITY: '16', FELIX_LOG_LEVEL: 'debug' },
      parse().base,
    );
    expect(kept).toMatchObject({ FELIX_SUB_QUEUE_CAPACITY: '16', FELIX_LOG_LEVEL: 'debug' });
    expect(felixVariables({ PATH: '/bin', FELIX_B: '2', FELIX_A: '1' })).toEqual({
      FELIX_A: '1',
      FELIX_B: '2',
    });
  });

  it("refuses a FELIX_FANOUT_BATCH other than the closed loop's batch, which replaces it", () => {
    const one = planCases(parse('--batch', '64'));
    expect(fanoutBatchConflict({}, one)).toBeUndefined();
    expect(fanoutBatchConflict({ FELIX_FANOUT_BATCH: '64' }, one)).toBeUndefined();
    expect(fanoutBatchConflict({ FELIX_FANOUT_BATCH: '8' }, one)).toContain('give --batch 8');
    // --all runs batches 1 and 64: any one value is replaced in some case.
    expect(fanoutBatchConflict({ FELIX_FANOUT_BATCH: '64' }, planCases(parse('--all')))).toContain(
      "from each case's batch (1 and 64), as Felix's: unset it (",
    );
    // The open loop keeps the broker's own batching.
    const open = planCases(parse('--rate', '10', '--total', '20'));
    expect(fanoutBatchConflict({ FELIX_FANOUT_BATCH: '8' }, open)).toBeUndefined();
  });

  it('sizes the subscriber queue bytes to what the publish window can have in flight, unless set', () => {
    const MiB = 1024 * 1024;
    // 1 MiB events at batch 64: the window's 2 batches are 128 MiB, four times the broker's 32 MiB default.
    const large = parse('--payload', String(MiB), '--batch', '64', '--total', '320', '--warmup', '64');
    const bytes = Number(brokerEnvironment({}, large.base).FELIX_SUB_QUEUE_MAX_BYTES);
    expect(bytes).toBeGreaterThanOrEqual(2 * 64 * (MiB + STAMP_BYTES));
    // Fanout: one subscriber may lag by the whole window, counted over all subscribers.
    const wide = parse('--payload', String(MiB), '--batch', '64', '--fanout', '4');
    expect(Number(brokerEnvironment({}, wide.base).FELIX_SUB_QUEUE_MAX_BYTES)).toBeGreaterThanOrEqual(
      4 * bytes,
    );
    // Small events keep the broker's default; the open loop bounds nothing, so the whole run counts.
    expect(brokerEnvironment({}, parse('--payload', '256', '--batch', '64').base)).toMatchObject({
      FELIX_SUB_QUEUE_MAX_BYTES: String(32 * MiB),
    });
    const open = parse('--rate', '1000', '--total', '100000', '--payload', '4096');
    expect(Number(brokerEnvironment({}, open.base).FELIX_SUB_QUEUE_MAX_BYTES)).toBeGreaterThanOrEqual(
      101_000 * (4096 + STAMP_BYTES),
    );
    expect(brokerEnvironment({ FELIX_SUB_QUEUE_MAX_BYTES: '1MiB' }, large.base)).toMatchObject({
      FELIX_SUB_QUEUE_MAX_BYTES: '1MiB',
    });
  });

  it('finds the QUIC port in the broker’s listening log line', () => {
    const line = JSON.stringify({
      msg: 'felix-ts broker listening',
      quic: { host: '127.0.0.1', port: 40123 },
    });
    expect(listeningPort(line)).toBe(40123);
    expect(listeningPort('{"msg":"starting"}')).toBeUndefined();
    expect(listeningPort('felix-ts broker listening, not JSON')).toBeUndefined();
  });
});
