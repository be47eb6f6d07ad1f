/** The summary table (one row per op and payload) and the --json document. */
import type { OpResult } from './suite.js';

export function resultTable(results: readonly OpResult[]): string {
  const header = [
    'op',
    'payload',
    'n',
    'p50_us',
    'p99_us',
    'p999_us',
    'avg_us',
    'ops/s',
    'cpu_us/op client',
    'server',
  ];
  const rows = results.map((r) => [
    r.op,
    `${r.payload} B`,
    String(r.stats.count),
    r.stats.p50Us.toFixed(2),
    r.stats.p99Us.toFixed(2),
    r.stats.p999Us.toFixed(2),
    r.stats.avgUs.toFixed(2),
    r.stats.throughputOps.toFixed(0),
    r.clientCpuUsPerOp.toFixed(1),
    r.serverCpuUsPerOp === null ? '-' : r.serverCpuUsPerOp.toFixed(1),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** Rows with unexpected answers (hits that missed, misses that hit): any makes the run invalid. */
export function invalidRows(results: readonly OpResult[]): string[] {
  return results
    .filter((r) => r.unexpected > 0)
    .map(
      (r) =>
        `${r.op} ${r.payload} B: ${r.unexpected} of ${r.stats.count} answers were not a ${r.op === 'get_miss' ? 'miss' : 'hit'}`,
    );
}

export function jsonRows(results: readonly OpResult[]): Record<string, unknown>[] {
  return results.map((r) => ({
    op: r.op,
    payload_bytes: r.payload,
    n: r.stats.count,
    p50_us: r.stats.p50Us,
    p99_us: r.stats.p99Us,
    p999_us: r.stats.p999Us,
    max_us: r.stats.maxUs,
    avg_us: r.stats.avgUs,
    throughput_ops: r.stats.throughputOps,
    unexpected: r.unexpected,
    client_cpu_us_per_op: r.clientCpuUsPerOp,
    server_cpu_us_per_op: r.serverCpuUsPerOp,
    // The open loop (--rate): latency counts from each operation's scheduled start; null when closed-loop.
    rate_ops: r.stats.openLoop?.rateOps ?? null,
    achieved_rate_ops: r.stats.openLoop?.achievedRateOps ?? null,
    start_lag_p99_us: r.stats.openLoop?.startLagP99Us ?? null,
    start_lag_max_us: r.stats.openLoop?.startLagMaxUs ?? null,
  }));
}
