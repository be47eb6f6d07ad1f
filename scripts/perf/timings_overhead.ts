// What per-hop timings cost: latencydemo at fanout 1 / batch 64 / 256 B with FELIX_DISABLE_TIMINGS=0 and
// =1, alternating trials in one run (the broker and the client read the same variable), medians with
// min–max and the ratio of delivered msg/s. Acceptance: timings cost at most 5%.
//   npm run build && node dist/scripts/perf/timings_overhead.js [--trials 10] [--total 300000] [--warmup 300000]
// The warm-up is as long as the measurement: after latencydemo's own 6400 events (100 batches) V8 has not
// yet optimised the per-batch paths, and a measurement of ~1 s then mostly sees the JIT at work, more so
// with the stamp code in those paths (docs/benchmarks.md, "Per-hop timings").
import { runChild } from './child_run.js';
import { perfCommand, positiveInteger, runIfMain } from './cli.js';

interface Trial {
  readonly timings: boolean;
  readonly deliveredMsgs: number;
  readonly p50Us: number;
}

const DEMO = 'dist/latencydemo/main.js';

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function runTrial(timings: boolean, total: number, warmup: number): Promise<Trial> {
  const env = { ...process.env, FELIX_DISABLE_TIMINGS: timings ? '0' : '1' };
  const args = [
    DEMO,
    '--fanout',
    '1',
    '--batch',
    '64',
    '--payload',
    '256',
    '--warmup',
    String(warmup),
    '--total',
    String(total),
    '--json',
  ];
  const result = await runChild(process.execPath, args, { env, timeoutMs: 300_000 });
  if (result.exitCode !== 0)
    throw new Error(`latencydemo exited ${result.exitCode}: ${result.stderr.slice(-500)}`);
  const report = JSON.parse(result.stdout) as {
    cases: { delivered_throughput_msgs: number; p50_us: number; valid: boolean; timings: unknown }[];
  };
  const c = report.cases[0]!;
  if (!c.valid) throw new Error('INVALID RUN: deliveries unaccounted');
  if ((c.timings !== null) !== timings)
    throw new Error(`expected timings ${timings ? 'on' : 'off'} in the report`);
  return { timings, deliveredMsgs: c.delivered_throughput_msgs, p50Us: c.p50_us };
}

async function main(): Promise<number> {
  const opts = perfCommand('timings_overhead')
    .option('--trials <n>', 'trials per setting', positiveInteger, 10)
    .option('--total <n>', 'measured messages per trial', positiveInteger, 300_000)
    .option('--warmup <n>', 'unmeasured messages before each measurement', positiveInteger, 300_000)
    .parse(process.argv)
    .opts<{ trials: number; total: number; warmup: number }>();
  const trials: Trial[] = [];
  for (let i = 0; i < opts.trials; i++) {
    // Alternate, and swap who goes first each round, so drift in the machine's load hits both alike.
    const order = i % 2 === 0 ? [true, false] : [false, true];
    for (const timings of order) {
      const t = await runTrial(timings, opts.total, opts.warmup);
      trials.push(t);
      console.error(
        `trial ${i + 1}/${opts.trials} timings ${timings ? 'on ' : 'off'}: ${t.deliveredMsgs.toFixed(0)} msg/s, p50 ${t.p50Us} us`,
      );
    }
  }
  const rates = (on: boolean): number[] => trials.filter((t) => t.timings === on).map((t) => t.deliveredMsgs);
  const on = rates(true);
  const off = rates(false);
  const ratio = median(on) / median(off);
  const fmt = (v: number[]): string =>
    `${median(v).toFixed(0)} [${Math.min(...v).toFixed(0)}–${Math.max(...v).toFixed(0)}]`;
  console.log('| setting | delivered msg/s, median [min–max] |');
  console.log('|---|---|');
  console.log(`| timings on (FELIX_DISABLE_TIMINGS=0) | ${fmt(on)} |`);
  console.log(`| timings off (FELIX_DISABLE_TIMINGS=1) | ${fmt(off)} |`);
  console.log(
    `\non/off = ${ratio.toFixed(3)} → cost ${((1 - ratio) * 100).toFixed(1)}% (acceptance: at most 5%) ${ratio >= 0.95 ? 'PASS' : 'FAIL'}`,
  );
  return 0;
}

runIfMain(import.meta.url, main);
