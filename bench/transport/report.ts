// The run's outputs: the markdown section (stdout, pasted into docs/benchmarks.md) and the raw JSON.
import { writeFileSync } from 'node:fs';
import { STACK_NAMES } from './channel.js';
import { renderChecks, type CheckOutcome } from './checks.js';
import { renderMachine, type MachineInfo } from './machine.js';
import { LOOPBACK_UDP_PAYLOAD, type Measurement } from './plan.js';
import { describeOtherLoad } from './quiet.js';
import { summarizeMetric, type MetricName, type TrialRecord } from './stats.js';
import { renderCpuTable, renderResultsTable } from './table.js';

export interface RunOutcome {
  readonly startedAt: Date;
  readonly command: string;
  readonly options: { readonly trials: number; readonly quick: boolean };
  readonly machine: MachineInfo;
  readonly plan: readonly Measurement[];
  readonly records: readonly TrialRecord[];
  /** Runs repeated because other processes competed for the CPUs during them. */
  readonly disturbed: readonly TrialRecord[];
  readonly checks: readonly CheckOutcome[];
}

export function renderReport(run: RunOutcome): string {
  const { options, records, plan } = run;
  return [
    '## Transport',
    '',
    `${run.startedAt.toISOString()}, \`${run.command}\`, median of ${options.trials} trial(s) [min–max]` +
      `${options.quick ? ', QUICK totals (smoke run, not for comparison)' : ''}.`,
    '',
    renderMachine(run.machine),
    describeOtherLoad(records, run.disturbed.length),
    `- QUIC runs use UDP payload 1350 or ${LOOPBACK_UDP_PAYLOAD} (loopback size: quiche's packet cap); ` +
      `ping-pong and pipelined runs use ${LOOPBACK_UDP_PAYLOAD}.`,
    '',
    renderResultsTable(records, plan),
    '',
    'CPU seconds (client + server) per GB delivered, one-way runs:',
    '',
    renderCpuTable(records, plan),
    '',
    renderChecks(run.checks),
    '',
  ].join('\n');
}

const METRICS: readonly MetricName[] = [
  'megabytesPerSecond',
  'cpuSecondsPerGB',
  'p50Micros',
  'p99Micros',
  'framesPerSecond',
];

/** Everything, raw trials included, for later analysis. */
export function writeJsonReport(path: string, run: RunOutcome): void {
  const summaries = run.plan.flatMap((m) =>
    STACK_NAMES.flatMap((stack) =>
      METRICS.flatMap((metric) => {
        const summary = summarizeMetric(run.records, m.id, stack, metric);
        return summary === null ? [] : [{ measurementId: m.id, stack, metric, ...summary }];
      }),
    ),
  );
  writeFileSync(path, `${JSON.stringify({ ...run, summaries }, null, 2)}\n`);
}
