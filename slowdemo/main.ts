#!/usr/bin/env node
/**
 * slowdemo: what one slow consumer costs the others. A publisher at a fixed rate, --concurrency fast
 * subscribers and one slow subscriber (--slow-ms ± --jitter-ms per event, or --stall), run once per broker
 * queue policy, each against a broker process of its own on the default profile, and once without the slow
 * subscriber (the baseline); each run's clients in a demo process of their own (isolated.ts). With --broker
 * it is a client simulator against that broker instead.
 *
 *   npm run demo:slow-consumer -- [--rate N] [--payload-bytes B] [--duration S] [--concurrency N]
 *       [--slow-ms MS] [--jitter-ms MS] [--stall] [--slow-recv-window B] [--policies LIST] [--no-baseline]
 *       [--broker HOST:PORT] [--json]
 *
 * Exit status: 0; 2 for a bad flag or setting (client FELIX_* settings are checked before any broker is
 * started; a broker setting its broker refused, with its own exit status 2, is passed on in its one line);
 * 1 when a run could not be made.
 */
import { CommanderError } from 'commander';
import { ConfigError, loadClientConfig } from '../client/index.js';
import { exitOnError } from '../latencydemo/exit-on-error.js';
import { parseCommandLine, type DemoRequest } from './cli.js';
import { formatRun, verdict } from './report.js';
import { encodeRun, RunFailed, RunRefusedSetting, runInChild } from './isolated.js';
import { queuePolicyConflict, runOnce, type RunResult } from './run.js';

const EXIT_USAGE = 2;

async function main(args: readonly string[]): Promise<number> {
  let request: DemoRequest;
  try {
    request = parseCommandLine(args);
    // The clients' settings before any broker is started for them, as latencydemo and cachedemo do: a bad
    // one is a usage error, not a run that failed once its broker was up. connect() reads them again.
    loadClientConfig({ env: process.env });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : EXIT_USAGE;
    if (error instanceof ConfigError) {
      process.stderr.write(`slowdemo: ${error.message}\n`);
      return EXIT_USAGE;
    }
    throw error;
  }
  const replaced = queuePolicyConflict(process.env, request.policies);
  if (replaced !== undefined) {
    process.stderr.write(`slowdemo: ${replaced}\n`);
    return EXIT_USAGE;
  }
  const warned = new Set<string>();
  const onWarning = (message: string): void => {
    if (warned.has(message)) return;
    warned.add(message);
    process.stderr.write(`slowdemo: ${message}\n`);
  };
  if (request.onlyRun !== undefined) {
    process.stdout.write(`${encodeRun(await runOnce(request, request.onlyRun, onWarning))}\n`);
    return 0;
  }
  const say = (text: string): void => {
    if (!request.json) process.stdout.write(`${text}\n`);
  };
  say(
    `slowdemo: ${request.rate} events/s × ${request.payloadBytes} B for ${request.durationS} s, ` +
      `${request.concurrency} fast subscriber(s), one ` +
      (Number.isFinite(request.slowMs)
        ? `slow subscriber (${request.slowMs}±${request.jitterMs} ms per event)`
        : 'stalled subscriber (never reads)') +
      `, its receive window ${request.slowRecvWindow} B\n`,
  );
  const runs: RunResult[] = [];
  let baseline: RunResult | undefined;
  if (request.broker !== undefined) {
    runs.push(await runOnce(request, 'external', onWarning));
    say(formatRun(runs[0]!));
  } else {
    // Each run in a process of its own, so that no run inherits the heap an earlier one shaped (isolated.ts).
    const runSeconds = request.warmupS + request.durationS;
    if (request.baseline) {
      baseline = await runInChild(args, 'baseline', runSeconds);
      runs.push(baseline);
      say(`${formatRun(baseline)}\n`);
    }
    for (const policy of request.policies) {
      const run = await runInChild(args, policy, runSeconds);
      runs.push(run);
      say(`${formatRun(run)}\n`);
    }
  }
  const verdicts = runs.filter((r) => r.label !== 'baseline').map((r) => verdict(r, baseline));
  for (const line of verdicts) say(line);
  if (request.json) process.stdout.write(`${JSON.stringify({ request, runs, verdicts }, null, 2)}\n`);
  return 0;
}

// Interrupted: exit through process.exit, whose 'exit' handlers stop the brokers this demo spawned.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    // A run's process that refused a setting has said so in one line (their stderr is ours): exit 2 as it.
    if (error instanceof RunRefusedSetting) process.exit(EXIT_USAGE);
    // In a run's process, a broker setting its broker refused is one line and exit 2 (exitOnError); a run's
    // process that failed has printed its own reason, which a stack trace of the demo's would only bury.
    exitOnError('slowdemo', error, (e) => e instanceof RunFailed);
  },
);
