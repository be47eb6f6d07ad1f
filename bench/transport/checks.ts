// The acceptance ratios, evaluated on the medians.
import { STACK_TITLES, type StackName } from './channel.js';
import { summarizeMetric, type MetricName, type TrialRecord } from './stats.js';
import { formatRatio } from './table.js';

interface AcceptanceCheck {
  readonly description: string;
  readonly measurementId: string;
  readonly metric: MetricName;
  readonly against: StackName;
  /** felix-ts / against must be at least (or, for latency, at most) this. */
  readonly bound: number;
  readonly atMost: boolean;
}

const atLeast = (
  description: string,
  measurementId: string,
  metric: MetricName,
  against: StackName,
  bound: number,
): AcceptanceCheck => ({ description, measurementId, metric, against, bound, atMost: false });

const ACCEPTANCE: readonly AcceptanceCheck[] = [
  ...['oneway-4k-1350', 'oneway-64k-1350', 'oneway-4k-loopback', 'oneway-64k-loopback'].map((id) =>
    atLeast(
      `one-way throughput ≥ 15× the high-level API at the same UDP payload (${id})`,
      id,
      'megabytesPerSecond',
      'highlevel',
      15,
    ),
  ),
  ...['oneway-4k-loopback', 'oneway-64k-loopback'].map((id) =>
    atLeast(
      `one-way throughput ≥ 0.15× TCP at loopback payload size (${id})`,
      id,
      'megabytesPerSecond',
      'tcp',
      0.15,
    ),
  ),
  {
    description: "64 B ping-pong p50 ≤ 3× TCP's",
    measurementId: 'pingpong-64',
    metric: 'p50Micros',
    against: 'tcp',
    bound: 3,
    atMost: true,
  },
  atLeast('pipelined 64 B frames ≥ 0.3× TCP', 'pipeline-64', 'framesPerSecond', 'tcp', 0.3),
];

export type Verdict = 'PASS' | 'FAIL' | 'SKIP';

export interface CheckOutcome {
  readonly description: string;
  readonly ratio: number | null;
  readonly verdict: Verdict;
  readonly required: string;
}

export function evaluateChecks(records: readonly TrialRecord[]): CheckOutcome[] {
  return ACCEPTANCE.map((c) => {
    const felix = summarizeMetric(records, c.measurementId, 'felix', c.metric);
    const other = summarizeMetric(records, c.measurementId, c.against, c.metric);
    const required = `${c.atMost ? '≤' : '≥'} ${formatRatio(c.bound)} ${STACK_TITLES[c.against]}`;
    if (felix === null || other === null || other.median === 0) {
      return { description: c.description, ratio: null, verdict: 'SKIP', required };
    }
    const ratio = felix.median / other.median;
    const pass = c.atMost ? ratio <= c.bound : ratio >= c.bound;
    return { description: c.description, ratio, verdict: pass ? 'PASS' : 'FAIL', required };
  });
}

export function renderChecks(outcomes: readonly CheckOutcome[]): string {
  const lines = [
    '| acceptance check | felix-ts / other (medians) | required | result |',
    '|---|---|---|---|',
  ];
  for (const o of outcomes) {
    const measured = o.ratio === null ? 'not measured' : formatRatio(o.ratio);
    lines.push(`| ${o.description} | ${measured} | ${o.required} | ${o.verdict} |`);
  }
  return lines.join('\n');
}
