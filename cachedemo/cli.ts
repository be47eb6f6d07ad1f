/** What cachedemo and the Redis runner of scripts/perf share as command-line programs. */
import { BenchSettingError, resolveBenchSettings, type BenchSettings } from './settings.js';

/** Settings from the environment and parsed flags; on a bad value, says so (as `program`) and returns null. */
export function settingsOrComplain(
  program: string,
  flags: Readonly<Record<string, unknown>>,
): BenchSettings | null {
  try {
    return resolveBenchSettings(process.env, flags);
  } catch (error) {
    if (!(error instanceof BenchSettingError)) throw error;
    process.stderr.write(`${program}: ${error.message}\n`);
    return null;
  }
}

/** Progress lines: stdout, or stderr when stdout carries the JSON document. */
export function progressPrinter(json: boolean): (line: string) => void {
  const out = json ? process.stderr : process.stdout;
  return (line) => void out.write(`${line}\n`);
}

/** Runs `main` and exits with its code; an error is printed (as `describe` words it) with exit code 1. */
export function runMain(
  program: string,
  main: () => Promise<number>,
  describe: (error: unknown) => { message: string; code: number } = (error) => ({
    message: (error as Error).stack ?? String(error),
    code: 1,
  }),
): void {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      const { message, code } = describe(error);
      process.stderr.write(`${program}: ${message}\n`);
      process.exit(code);
    },
  );
}
