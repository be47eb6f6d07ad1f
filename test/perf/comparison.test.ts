import { describe, expect, it } from 'vitest';
import {
  ACCEPTANCE_RATIOS,
  comparisonTable,
  compareWithNats,
  PEER_WORKLOADS,
} from '../../scripts/perf/comparison.js';
import type { Workload } from '../../scripts/perf/matrix.js';
import { NATS_INSTALL_HINT } from '../../scripts/perf/nats_server.js';
import type { RunRecord } from '../../scripts/perf/run_records.js';
import { record } from './helpers.js';

function workload(id: string): Workload {
  return PEER_WORKLOADS.find((w) => w.id === id)!.workload;
}

/** Three trials per system of one workload, with the given medians (the other trials around them). */
function trials(
  system: 'felix' | 'nats',
  id: string,
  m: { msgs: number; mbs: number; p50: number; p99: number },
): RunRecord[] {
  return [0.9, 1, 1.1].map((f, i) =>
    record({
      system,
      profile: system === 'felix' ? 'balanced' : 'nats',
      preset: 'default',
      trial: i + 1,
      workload: workload(id),
      metrics: {
        delivered_throughput_msgs: m.msgs * f,
        delivered_mb_s: m.mbs * f,
        p50_us: m.p50 * f,
        p99_us: m.p99 * f,
      },
    }),
  );
}

describe('felix-ts vs NATS', () => {
  it('uses the workloads of the acceptance ratios, in the encoding each batch size is quoted in', () => {
    expect(PEER_WORKLOADS.map((w) => [w.id, w.workload.binary])).toEqual([
      ['f1_b1_256B', false],
      ['f1_b64_256B', true],
      ['f10_b64_4096B', true],
    ]);
    for (const check of ACCEPTANCE_RATIOS)
      expect(PEER_WORKLOADS.map((w) => w.id)).toContain(check.workloadId);
  });

  it('divides felix medians by NATS medians and judges each required ratio', () => {
    const lines = compareWithNats([
      ...trials('felix', 'f1_b1_256B', { msgs: 5000, mbs: 1.4, p50: 240, p99: 900 }),
      ...trials('nats', 'f1_b1_256B', { msgs: 12000, mbs: 3.3, p50: 60, p99: 300 }),
      ...trials('felix', 'f1_b64_256B', { msgs: 300_000, mbs: 82, p50: 2000, p99: 9000 }),
      ...trials('nats', 'f1_b64_256B', { msgs: 250_000, mbs: 68, p50: 900, p99: 3000 }),
      ...trials('felix', 'f10_b64_4096B', { msgs: 50_000, mbs: 205, p50: 9000, p99: 20000 }),
      ...trials('nats', 'f10_b64_4096B', { msgs: 100_000, mbs: 411, p50: 4000, p99: 15000 }),
    ]);
    const judged = lines.filter((l) => l.verdict !== undefined);
    expect(
      judged.map((l) => [l.workloadId, l.metric, Number(l.ratio!.toFixed(3)), l.target, l.verdict]),
    ).toEqual([
      ['f1_b1_256B', 'p50 µs', 4, '≤ 3.0×', 'FAIL'],
      ['f1_b64_256B', 'delivered msg/s', 1.2, '≥ 1.0×', 'PASS'],
      ['f10_b64_4096B', 'delivered MB/s', 0.499, '≥ 0.5×', 'FAIL'],
    ]);
    expect(lines.every((l) => l.felixTrials === 3 && l.natsTrials === 3)).toBe(true);
    const table = comparisonTable(lines);
    expect(table).toContain('| f1_b64_256B | delivered msg/s | 300,000 | 250,000 | 1.20× | ≥ 1.0× | PASS |');
    expect(table.split('\n')).toHaveLength(2 + 3 * 4);
  });

  it('says NO DATA rather than guessing when a system has no measurement', () => {
    const lines = compareWithNats(
      trials('felix', 'f1_b1_256B', { msgs: 5000, mbs: 1.4, p50: 240, p99: 900 }),
    );
    expect(lines.find((l) => l.verdict !== undefined)).toMatchObject({
      verdict: 'NO DATA',
      ratio: undefined,
    });
  });

  it('tells exactly what to install when nats-server is missing', () => {
    expect(NATS_INSTALL_HINT).toBe('apt-get install nats-server');
  });
});
