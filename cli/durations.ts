import { InvalidArgumentError } from 'commander';

const SECONDS_PER_UNIT: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3_600, d: 86_400 };
const DURATION = /^(\d{1,9})([smhd])$/;

/**
 * A commander argument parser for durations written with their unit (30s, 15m, 1h, 7d), returning whole
 * seconds within [min, max]. A bare number is refused: "60" could mean seconds or minutes.
 */
export function durationSeconds(minSeconds: number, maxSeconds: number): (text: string) => number {
  return (text) => {
    const match = DURATION.exec(text);
    const seconds = match === null ? NaN : Number(match[1]) * SECONDS_PER_UNIT[match[2]];
    if (!Number.isSafeInteger(seconds) || seconds < minSeconds || seconds > maxSeconds) {
      throw new InvalidArgumentError(
        `expected a duration from ${formatSeconds(minSeconds)} to ${formatSeconds(maxSeconds)} written with ` +
          `its unit (s, m, h or d), e.g. 90s, 15m, 1h, 7d; got ${JSON.stringify(text)}`,
      );
    }
    return seconds;
  };
}

export function formatSeconds(seconds: number): string {
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
  ] as const) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}
