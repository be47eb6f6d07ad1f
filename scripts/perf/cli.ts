// What every perf script does when run as a program: call main, and turn the errors a user can fix
// (a bad presets file, a bad flag) into one clear line and exit code 2 instead of a stack trace.
import { pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';

/** An error whose message alone tells the user what to change; printed without a stack. */
export class UsageError extends Error {
  override readonly name: string = 'UsageError';
}

export function isMainModule(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && moduleUrl === pathToFileURL(process.argv[1]).href;
}

/** Runs `main` when the module is the program (not when a test imports it); main's number is the exit code. */
export function runIfMain(moduleUrl: string, main: () => Promise<number | void>): void {
  if (!isMainModule(moduleUrl)) return;
  main().then(
    (code) => {
      process.exitCode = code ?? 0;
    },
    (error: unknown) => {
      if (error instanceof UsageError) {
        console.error(error.message);
        process.exitCode = 2;
        return;
      }
      console.error(error);
      process.exitCode = 1;
    },
  );
}

/**
 * A perf script's command line: a bad flag or value exits 2 (as latencydemo, cachedemo and the felix-ts CLI
 * do), not commander's 1, which the scripts keep for a run that failed.
 */
export function perfCommand(name: string): Command {
  return new Command(name).exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2));
}

/** Commander argument parsers for counts. */
export function nonNegativeInteger(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new InvalidArgumentError('expected an integer ≥ 0');
  return value;
}

export function positiveInteger(text: string): number {
  const value = Number(text);
  // Named by its own bound also for text that is no integer at all ("abc" is not "an integer ≥ 0").
  if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError('expected an integer ≥ 1');
  return value;
}

/** A number ≥ 0 (fractions allowed), e.g. a load average; `Number` alone takes "abc" as NaN, a silent no-op. */
export function nonNegativeNumber(text: string): number {
  const value = /^\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isFinite(value)) throw new InvalidArgumentError('expected a number ≥ 0');
  return value;
}
