/** The summary table (one row per op and payload) and the --json document. */
import { RATE_SHORTFALL_MARGIN, rateShortfall, scheduleSlip, slipReason } from '../latencydemo/pacer.js';
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

/**
 * Why rows make the run invalid: unexpected answers (hits that missed, misses that hit), or an open loop
 * that started its operations more than RATE_SHORTFALL_MARGIN below --rate (the starter was saturated, so
 * latencies from the scheduled starts measure the demo's backlog, not the cache).
 */
export function invalidRows(results: readonly OpResult[], ttlMs: number | null = null): string[] {
  const rows: string[] = [];
  for (const r of results) {
    const where = `${r.op} ${r.payload} B`;
    if (r.unexpected > 0) {
      // get_hit reads keys put before it: with a TTL shorter than the run they have expired by then.
      const expiry =
        r.op === 'get_hit' && ttlMs !== null
          ? ` (every put had --ttl-ms ${ttlMs}: keys expire before the get_hit phase reads them; give a TTL ` +
            'longer than the run)'
          : '';
      rows.push(
        `${where}: ${r.unexpected} of ${r.stats.count} answers were not a ${r.op === 'get_miss' ? 'miss' : 'hit'}${expiry}`,
      );
    }
    const o = r.stats.openLoop;
    const shortfall =
      o === undefined ? undefined : rateShortfall(o.rateOps, o.achievedRateOps, r.stats.count);
    if (o !== undefined && shortfall !== undefined) {
      rows.push(
        `${where}: open loop achieved ${o.achievedRateOps.toFixed(2)} ops/s of the ${o.rateOps} asked ` +
          `(${(100 * shortfall).toFixed(1)}% short, more than ${RATE_SHORTFALL_MARGIN * 100}%): operations ` +
          'started late, so latencies from their scheduled starts measure queueing in the demo, not the cache',
      );
    }
    const slip = o === undefined ? undefined : scheduleSlip(o.rateOps, o.startLagMaxUs, r.stats.count);
    if (o !== undefined && slip !== undefined) {
      rows.push(`${where}: ${slipReason(slip, o.startLagMaxUs, 'starter', 'operations')}`);
    }
  }
  return rows;
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
