/**
 * Each run in a demo process of its own. All of a run's clients share one process (as they would in one
 * application), but runs must not share it with each other: V8's heap sizing carries over from one run to
 * the next. Measured in one process, the same baseline run repeated read 5.28, 8.43 and 8.03 ms p99: the
 * young generation grows during the first run (16 → 32 MiB), and from then on every collection is a
 * mark-compact (about 30 in each later run's 10 s, none but minor ones in the first run's first 8 s) — so
 * the policy runs, which always come after the baseline, paid for the process's age, not for the slow
 * subscriber. A fresh process per run starts every run, the baseline included, from the same state.
 */
import { spawn } from 'node:child_process';
import type { RunResult } from './run.js';

// A child that outlives its run by this much (warm-up, duration, settling, broker start and stop) is stuck.
const SPARE_MS = 120_000;
// The demo's own status for a bad flag or setting (main.ts), which a run's process exits with too.
const EXIT_USAGE = 2;

/**
 * A run's process refused a setting (its exit status 2: a client setting, or one its broker refused). It
 * has said why in one line on the stderr it shares with the demo, so the demo exits 2 without a word more.
 */
export class RunRefusedSetting extends Error {
  override readonly name = 'RunRefusedSetting';
}

/** A run's process failed otherwise; its own stderr (shared with the demo) says why. */
export class RunFailed extends Error {
  override readonly name = 'RunFailed';
}

/** The run's result as the child prints it: JSON, with NaN (a figure /metrics did not give) kept. */
export function encodeRun(run: RunResult): string {
  return JSON.stringify(run, (_key, value: unknown) =>
    typeof value === 'number' && Number.isNaN(value) ? 'NaN' : value,
  );
}

function decodeRun(text: string): RunResult {
  return JSON.parse(text, (_key, value: unknown) => (value === 'NaN' ? Number.NaN : value)) as RunResult;
}

/**
 * Makes the run `label` in a fresh process of this demo (`args` are the demo's own, `--only-run` is added)
 * and returns its result. The child's warnings go to our stderr.
 */
export function runInChild(
  args: readonly string[],
  label: RunResult['label'],
  runSeconds: number,
): Promise<RunResult> {
  const child = spawn(
    process.execPath,
    [...process.execArgv, process.argv[1]!, ...args, '--only-run', label],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  // Stopping the demo stops its children (and their brokers, through their own exit handlers).
  const stop = (): void => void child.kill('SIGTERM');
  process.once('exit', stop);
  const timer = setTimeout(stop, runSeconds * 1000 + SPARE_MS);
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  return new Promise<RunResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      process.removeListener('exit', stop);
      const ended = `the ${label} run's process ended with ${signal ?? `exit status ${code}`}`;
      if (code === EXIT_USAGE) reject(new RunRefusedSetting(ended));
      else if (code !== 0) reject(new RunFailed(ended));
      else {
        try {
          resolve(decodeRun(output));
        } catch (error) {
          reject(new RunFailed(`the ${label} run's process printed no result: ${(error as Error).message}`));
        }
      }
    });
  });
}
