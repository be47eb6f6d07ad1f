import { defaultPubWindow } from './publish-window.js';
import { usesAcks } from './publisher.js';

/**
 * The cases a run measures: one (the default), Felix's --matrix (payloads × fanouts), or Felix's --all
 * (latency cases, throughput cases, then the publisher scaling check), with Felix's case list.
 */

export type Sharding = 'hash_stream' | 'rr';

/** The workload of a case, in Felix's terms; the JSON report carries it under the same names. */
export interface Workload {
  readonly warmup: number;
  readonly total: number;
  /** Bytes after the 16-byte stamp header (Felix's --payload). */
  readonly payload: number;
  readonly fanout: number;
  readonly batch: number;
  readonly binary: boolean;
}

/** Everything one case is run with. */
export interface CaseSettings extends Workload {
  readonly idleMs: number;
  readonly pubConns: number;
  readonly pubStreamsPerConn: number;
  readonly pubSharding: Sharding;
  readonly pubStreamCount: number;
  readonly subConns: number;
  /**
   * Batches in flight at most (published, not yet delivered to every subscriber); 0: no bound;
   * undefined: sized to each case's batches (defaultPubWindow).
   */
  readonly pubWindow: number | undefined;
  /**
   * Open loop (--rate): messages per second, one unacknowledged publish each at its scheduled time,
   * latency measured from that time; undefined: the closed loop (publish, wait, publish).
   */
  readonly rate?: number | undefined;
}

export interface CaseConfig extends Omit<CaseSettings, 'pubWindow'> {
  /** `<group>/f<fanout>-b<batch>-p<payload>[-binary][-pc<conns>x<streams>]`, unique within a run. */
  readonly name: string;
  readonly pubWindow: number;
}

export type RunMode = 'single' | 'matrix' | 'all';

export interface CasePlanRequest {
  readonly mode: RunMode;
  readonly base: CaseSettings;
  /** --matrix only. */
  readonly payloads: readonly number[];
  /** --matrix only. */
  readonly fanouts: readonly number[];
}

export function caseName(group: string, c: CaseSettings): string {
  if (c.rate !== undefined) return `${group}/f${c.fanout}-r${c.rate}-p${c.payload}`;
  const binary = c.binary ? '-binary' : '';
  const pool = group === 'scaling' ? `-pc${c.pubConns}x${c.pubStreamsPerConn}` : '';
  return `${group}/f${c.fanout}-b${c.batch}-p${c.payload}${binary}${pool}`;
}

/** The case's publish window in batches: --pub-window, else sized to its batches; 0 (no bound) with --rate. */
export function resolvedPubWindow(c: CaseSettings): number {
  // The open loop bounds nothing in flight: the rate is the load.
  return c.rate !== undefined ? 0 : (c.pubWindow ?? defaultPubWindow(c.batch, c.payload));
}

/**
 * The publish window as the reports give it: null in the acked mode (batch 1 without --binary), where each
 * publish awaits its ack and no window is used; 0 (unbounded) in the open loop; else batches in flight.
 */
export function reportedPubWindow(c: CaseConfig): number | null {
  return c.rate === undefined && usesAcks(c) ? null : c.pubWindow;
}

function named(group: string, c: CaseSettings): CaseConfig {
  return { ...c, name: caseName(group, c), pubWindow: resolvedPubWindow(c) };
}

export function planCases(request: CasePlanRequest): CaseConfig[] {
  const { base } = request;
  switch (request.mode) {
    case 'single':
      return [named(base.rate === undefined ? 'single' : 'open-loop', base)];
    case 'matrix':
      return request.payloads.flatMap((payload) =>
        request.fanouts.map((fanout) =>
          named(base.rate === undefined ? 'matrix' : 'open-loop', { ...base, payload, fanout }),
        ),
      );
    case 'all':
      return allCases(base);
  }
}

/**
 * Felix's run_all: what it sets per case (cli.ts refuses the flags for these with --all); everything else
 * (idle, sharding, streams, the pools but in the scaling cases…) comes from `base`.
 */
function allCases(base: CaseSettings): CaseConfig[] {
  const cases: CaseConfig[] = [];
  for (const payload of [0, 256, 1024]) {
    for (const fanout of [1, 10]) {
      cases.push(named('latency', { ...base, payload, fanout, batch: 1, warmup: 200, total: 2000 }));
    }
  }
  const binaries = base.binary ? [true] : [false, true];
  for (const payload of [0, 1024, 4096]) {
    for (const fanout of [1, 10]) {
      for (const binary of binaries) {
        cases.push(
          named('throughput', { ...base, payload, fanout, batch: 64, binary, warmup: 200, total: 5000 }),
        );
      }
    }
  }
  const scaling = { ...base, payload: 256, fanout: 1, batch: 64, warmup: 200, total: 5000 };
  cases.push(named('scaling', { ...scaling, pubConns: 1, pubStreamsPerConn: 1 }));
  cases.push(named('scaling', { ...scaling, pubConns: 4, pubStreamsPerConn: 2 }));
  return cases;
}

/** Felix's note printed before each case. */
export function expectationNote(c: CaseSettings): string {
  if (c.rate !== undefined) {
    return (
      `Expectation: open loop at ${c.rate} msg/s, one unacknowledged publish per message at its scheduled ` +
      'time; latency counts from that time, so any queueing shows.'
    );
  }
  return c.batch <= 1 && !c.binary
    ? 'Expectation: latency-focused run; p999 <= 1 ms on localhost if not saturated.'
    : 'Expectation: throughput-focused run; higher p999 is normal due to queueing.';
}
