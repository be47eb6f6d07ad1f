// The latency matrix: every profile × workload × preset × trial a config selects, and the latencydemo
// command line of each.
import { matchesAnyFilter, parseFilter, type Filter, type FilterSubject } from './filters.js';
import type { PerfConfig, PublisherPreset, WorkloadGrid } from './perf_config.js';
import { STAMP_BYTES } from '../../latencydemo/stamp.js';

/** One latencydemo case, as its flags set it. */
export interface Workload {
  readonly fanout: number;
  readonly batch: number;
  readonly payload_bytes: number;
  readonly warmup: number;
  readonly total: number;
  readonly binary: boolean;
  /**
   * latencydemo's open loop (--rate): messages per second, one publish each (batch 1); absent for the
   * closed loop.
   */
  readonly rate?: number;
}

export interface MatrixCell {
  readonly profile: string;
  readonly profile_env: Readonly<Record<string, string>>;
  readonly preset: string;
  readonly preset_spec: PublisherPreset;
  readonly workload: Workload;
  readonly trial: number;
}

export function encodingName(binary: boolean): 'binary' | 'json' {
  return binary ? 'binary' : 'json';
}

/**
 * The encoding a batch size is quoted in: batch 1 in JSON with a per-message ack (request latency),
 * larger batches as binary batches (sustained throughput). Charts and the NATS comparison use it.
 */
export function headlineBinary(batch: number): boolean {
  return batch > 1;
}

/**
 * `total` is a floor: a batched run is lengthened until its events — each latencydemo's 16-byte stamp and
 * the payload, as its send-window warning counts them — move min_run_bytes (capped at max_total), since a
 * run that fits in the send window measures buffer fill. Batch-1 runs are acked one at a time, so they keep
 * `total`; so do zero-byte runs, whose 16-byte events would need 16.8 M of them to fill a 256 MiB window.
 */
export function scaledTotal(grid: WorkloadGrid, batch: number, payloadBytes: number): number {
  if (batch <= 1 || payloadBytes === 0) return grid.total;
  const needed = Math.ceil(grid.min_run_bytes / (STAMP_BYTES + payloadBytes));
  return Math.min(grid.max_total, Math.max(grid.total, needed));
}

export function filterSubject(cell: MatrixCell): FilterSubject {
  const w = cell.workload;
  return {
    profile: cell.profile,
    fanout: String(w.fanout),
    batch: String(w.batch),
    payload: String(w.payload_bytes),
    binary: String(w.binary),
    preset: cell.preset,
    trial: String(cell.trial),
  };
}

/**
 * Every selected cell, trial by trial: trial 1 of every cell before trial 2 of any, so a burst of outside
 * load on a shared machine lands on one trial of many cells rather than on every trial of one.
 */
export function buildMatrix(config: PerfConfig, trials: number, cliFilters: readonly Filter[]): MatrixCell[] {
  const configFilters = config.only.map(parseFilter);
  const grid = config.workload;
  const cells: MatrixCell[] = [];
  for (let trial = 1; trial <= trials; trial++) {
    for (const [profile, profile_env] of Object.entries(config.profiles)) {
      for (const fanout of grid.fanout) {
        for (const batch of grid.batch) {
          for (const binary of grid.binary) {
            for (const payload_bytes of grid.payload_bytes) {
              for (const [preset, preset_spec] of Object.entries(config.presets)) {
                const total = scaledTotal(grid, batch, payload_bytes);
                const workload = { fanout, batch, payload_bytes, warmup: grid.warmup, total, binary };
                const cell = { profile, profile_env, preset, preset_spec, workload, trial };
                const subject = filterSubject(cell);
                if (matchesAnyFilter(configFilters, subject) && matchesAnyFilter(cliFilters, subject)) {
                  cells.push(cell);
                }
              }
            }
          }
        }
      }
    }
  }
  return cells;
}

/** latencydemo's flags for a workload: the part the NATS harness shares. */
export function workloadArgs(w: Workload): string[] {
  if (w.rate !== undefined) {
    return [
      ...['--warmup', String(w.warmup), '--total', String(w.total), '--payload', String(w.payload_bytes)],
      ...['--fanout', String(w.fanout), '--rate', String(w.rate)],
    ];
  }
  return [
    '--warmup',
    String(w.warmup),
    '--total',
    String(w.total),
    '--payload',
    String(w.payload_bytes),
    '--fanout',
    String(w.fanout),
    '--batch',
    String(w.batch),
    ...(w.binary ? ['--binary'] : []),
  ];
}

export function presetArgs(p: PublisherPreset): string[] {
  return [
    '--pub-conns',
    String(p.pub_conns),
    '--pub-streams-per-conn',
    String(p.pub_streams_per_conn),
    '--pub-sharding',
    p.pub_sharding,
    '--pub-stream-count',
    String(p.pub_stream_count),
    ...(p.sub_conns === undefined ? [] : ['--sub-conns', String(p.sub_conns)]),
  ];
}

/** Identifies a cell across attempts and sessions (what --resume skips). */
export function cellKey(cell: Pick<MatrixCell, 'profile' | 'preset' | 'workload' | 'trial'>): string {
  const w = cell.workload;
  const rate = w.rate === undefined ? '' : `/r${w.rate}`;
  return `${cell.profile}/f${w.fanout}/b${w.batch}/p${w.payload_bytes}/${encodingName(w.binary)}${rate}/${cell.preset}/t${cell.trial}`;
}

/** A file-name-safe label of a cell. */
export function cellLabel(cell: Pick<MatrixCell, 'profile' | 'preset' | 'workload' | 'trial'>): string {
  return cellKey(cell).replaceAll('/', '_');
}
