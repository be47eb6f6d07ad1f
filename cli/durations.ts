// Durations and counts on the command line: always written with their unit, so "60" is never ambiguous.
import { InvalidArgumentError } from 'commander';

const MS_PER_UNIT: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};
const DURATION = /^(\d{1,12})(ms|s|m|h|d)$/;
const LARGEST_FIRST = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
] as const;

/**
 * A commander argument parser for durations with their unit (250ms, 30s, 15m, 1h, 7d), returning whole
 * milliseconds within [min, max]. A bare number is refused: "60" could mean milliseconds or seconds.
 */
export function durationMs(minMs: number, maxMs: number): (text: string) => number {
  return (text) => {
    const match = DURATION.exec(text);
    const ms = match === null ? NaN : Number(match[1]) * MS_PER_UNIT[match[2]!]!;
    if (!Number.isSafeInteger(ms) || ms < minMs || ms > maxMs) {
      throw new InvalidArgumentError(
        `expected a duration from ${formatMs(minMs)} to ${formatMs(maxMs)} written with its unit ` +
          `(ms, s, m, h or d), e.g. 500ms, 30s, 15m; got ${JSON.stringify(text)}`,
      );
    }
    return ms;
  };
}

/** As durationMs, in whole seconds (a JWT's exp, say): a duration that is not whole seconds is refused. */
export function durationSeconds(minSeconds: number, maxSeconds: number): (text: string) => number {
  const inMs = durationMs(minSeconds * 1_000, maxSeconds * 1_000);
  return (text) => {
    const ms = inMs(text);
    if (ms % 1_000 !== 0)
      throw new InvalidArgumentError(`expected whole seconds; got ${JSON.stringify(text)}`);
    return ms / 1_000;
  };
}

/** The shortest exact form of `ms` with a unit: 90000 → 90s, 3600000 → 1h. */
export function formatMs(ms: number): string {
  for (const [unit, size] of LARGEST_FIRST) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

export function formatSeconds(seconds: number): string {
  return formatMs(seconds * 1_000);
}

/** A commander parser for a whole number within [min, max]. */
export function integerArgument(min: number, max: number): (text: string) => number {
  return (text) => {
    const value = /^\d{1,16}$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(
        `expected a whole number from ${min} to ${max}; got ${JSON.stringify(text)}`,
      );
    }
    return value;
  };
}
