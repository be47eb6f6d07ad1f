// What gets measured, and how much work each stack gets. Totals are sized so every measurement runs
// about 1–2 s on the 2-core reference machine (the high-level API, 15–60× slower, gets smaller totals
// so it does not dominate the run) and ping-pong runs at least a thousand round trips.
import type { StackName } from './channel.js';
import type { WorkloadSpec } from './workloads.js';

/** quiche never builds a packet above 16383 bytes (transport/settings.ts MAX_QUICHE_PACKET): "loopback size". */
export const LOOPBACK_UDP_PAYLOAD = 16_383;
export const WAN_UDP_PAYLOAD = 1350;

export type MeasurementKind = WorkloadSpec['kind'];

export interface Measurement {
  /** Stable name, used by --workloads and in the JSON output. */
  readonly id: string;
  readonly kind: MeasurementKind;
  /** Human description of the row, without the metric. */
  readonly title: string;
  /** UDP payload both QUIC endpoints send with; TCP ignores it. */
  readonly udpPayload: number;
  /** The stacks this measurement runs on, with their workload. */
  readonly specs: Partial<Record<StackName, WorkloadSpec>>;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** The full run's amount of work; --quick divides it (see scaled). */
function oneWay(writeBytes: number, totals: Partial<Record<StackName, number>>) {
  const specs: Partial<Record<StackName, WorkloadSpec>> = {};
  for (const [stack, totalBytes] of Object.entries(totals) as [StackName, number][]) {
    specs[stack] = { kind: 'oneway', writeBytes, totalBytes };
  }
  return specs;
}

function pingPong(payloadBytes: number, roundTrips: Record<StackName, number>) {
  const specs: Partial<Record<StackName, WorkloadSpec>> = {};
  for (const [stack, n] of Object.entries(roundTrips) as [StackName, number][]) {
    specs[stack] = { kind: 'pingpong', payloadBytes, roundTrips: n, warmupRoundTrips: Math.ceil(n / 10) };
  }
  return specs;
}

function pipeline(payloadBytes: number, maxInFlight: number, frames: Record<StackName, number>) {
  const specs: Partial<Record<StackName, WorkloadSpec>> = {};
  for (const [stack, n] of Object.entries(frames) as [StackName, number][]) {
    // ~16 KB per write: what a publisher batching its frames would hand the transport.
    specs[stack] = { kind: 'pipeline', payloadBytes, frames: n, maxInFlight, batchBytes: 16 * KiB };
  }
  return specs;
}

const FULL_PLAN: readonly Measurement[] = [
  {
    id: 'oneway-4k-1350',
    kind: 'oneway',
    title: 'one-way, 4 KiB writes, UDP payload 1350',
    udpPayload: WAN_UDP_PAYLOAD,
    specs: oneWay(4 * KiB, { felix: 256 * MiB, highlevel: 3 * MiB }),
  },
  {
    id: 'oneway-64k-1350',
    kind: 'oneway',
    title: 'one-way, 64 KiB writes, UDP payload 1350',
    udpPayload: WAN_UDP_PAYLOAD,
    specs: oneWay(64 * KiB, { felix: 256 * MiB, highlevel: 3 * MiB }),
  },
  {
    id: 'oneway-4k-loopback',
    kind: 'oneway',
    title: 'one-way, 4 KiB writes, UDP payload 16383 (loopback size)',
    udpPayload: LOOPBACK_UDP_PAYLOAD,
    specs: oneWay(4 * KiB, { felix: 1 * GiB, highlevel: 24 * MiB, tcp: 2 * GiB }),
  },
  {
    id: 'oneway-64k-loopback',
    kind: 'oneway',
    title: 'one-way, 64 KiB writes, UDP payload 16383 (loopback size)',
    udpPayload: LOOPBACK_UDP_PAYLOAD,
    specs: oneWay(64 * KiB, { felix: 1 * GiB, highlevel: 24 * MiB, tcp: 3 * GiB }),
  },
  {
    id: 'pingpong-64',
    kind: 'pingpong',
    title: 'ping-pong, 64 B frames',
    udpPayload: LOOPBACK_UDP_PAYLOAD,
    specs: pingPong(64, { felix: 6000, highlevel: 1000, tcp: 12_000 }),
  },
  {
    id: 'pingpong-4k',
    kind: 'pingpong',
    title: 'ping-pong, 4 KiB frames',
    udpPayload: LOOPBACK_UDP_PAYLOAD,
    specs: pingPong(4 * KiB, { felix: 6000, highlevel: 1000, tcp: 12_000 }),
  },
  {
    id: 'pipeline-64',
    kind: 'pipeline',
    title: 'pipelined 64 B frames, ≤ 2048 in flight',
    udpPayload: LOOPBACK_UDP_PAYLOAD,
    specs: pipeline(64, 2048, { felix: 3_000_000, highlevel: 500_000, tcp: 8_000_000 }),
  },
  {
    id: 'pipeline-4k',
    kind: 'pipeline',
    title: 'pipelined 4 KiB frames, ≤ 256 in flight',
    udpPayload: LOOPBACK_UDP_PAYLOAD,
    specs: pipeline(4 * KiB, 256, { felix: 100_000, highlevel: 6000, tcp: 300_000 }),
  },
];

export const MEASUREMENT_IDS = FULL_PLAN.map((m) => m.id);

/** A smoke run: every amount divided by `divisor`, keeping enough work to exercise each path. */
function scaled(spec: WorkloadSpec, divisor: number): WorkloadSpec {
  switch (spec.kind) {
    case 'oneway':
      return { ...spec, totalBytes: Math.max(spec.writeBytes, Math.round(spec.totalBytes / divisor)) };
    case 'pingpong':
      return {
        ...spec,
        roundTrips: Math.max(100, Math.round(spec.roundTrips / divisor)),
        warmupRoundTrips: Math.max(10, Math.round(spec.warmupRoundTrips / divisor)),
      };
    case 'pipeline':
      return { ...spec, frames: Math.max(spec.maxInFlight, Math.round(spec.frames / divisor)) };
  }
}

export const QUICK_DIVISOR = 20;

export function buildPlan(opts: {
  quick: boolean;
  stacks: readonly StackName[];
  measurementIds: readonly string[] | null;
}): Measurement[] {
  const plan: Measurement[] = [];
  for (const m of FULL_PLAN) {
    if (opts.measurementIds !== null && !opts.measurementIds.includes(m.id)) continue;
    const specs: Partial<Record<StackName, WorkloadSpec>> = {};
    for (const stack of opts.stacks) {
      const spec = m.specs[stack];
      if (spec !== undefined) specs[stack] = opts.quick ? scaled(spec, QUICK_DIVISOR) : spec;
    }
    if (Object.keys(specs).length !== 0) plan.push({ ...m, specs });
  }
  return plan;
}
