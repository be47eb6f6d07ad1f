/**
 * The offsets a durable stream skipped on purpose (`skipped.json` beside its segments): after an unclean
 * stop the log continues at the offset reservation's mark, in a segment of its own, and the offsets between
 * the log's old end and the mark are a gap between two segments (offset-reservation.ts). Recorded here, so
 * that a later start tells that gap from the one a lost segment file leaves (segment-gaps.ts), which it
 * reports. The file only serves that report: one that cannot be read costs a false report, never data.
 */
import { join } from 'node:path';
import { readJsonFile, replaceFileSync } from './atomic-file.js';
import { DamagedFileError } from './damaged-file.js';

export const SKIPPED_FILE = 'skipped.json';
const SKIPPED_VERSION = 1;

/** Offsets from `from` up to `to` (not included), skipped when a start continued the log at `to`. */
export interface SkippedRange {
  readonly from: number;
  readonly to: number;
}

/**
 * The ranges recorded in `dir` (none when there is no file). Throws a DamagedFileError naming the file when
 * it cannot be read or does not hold version 1 ranges.
 */
export function readSkipped(dir: string): SkippedRange[] {
  const parsed = readJsonFile(dir, SKIPPED_FILE) as { version?: unknown; ranges?: unknown } | undefined;
  if (parsed === undefined) return [];
  const ranges = parsed.ranges;
  if (parsed.version === SKIPPED_VERSION && Array.isArray(ranges) && ranges.every(isRange)) {
    return ranges.map(([from, to]) => ({ from, to }));
  }
  throw new DamagedFileError(join(dir, SKIPPED_FILE), `not version ${SKIPPED_VERSION} skipped offset ranges`);
}

/**
 * Records that offsets from `from` up to `to` are skipped, beside `known` (what readSkipped returned);
 * ranges wholly below `oldest` (the log's oldest offset: retention removed what lay around them) are
 * dropped, so the file stays as small as the number of unclean stops the log still spans. Written
 * atomically, before the log continues past the gap.
 */
export function recordSkipped(
  dir: string,
  known: readonly SkippedRange[],
  skipped: SkippedRange,
  oldest: number,
): SkippedRange[] {
  const ranges = [...known.filter((r) => r.to > oldest), skipped];
  const text = JSON.stringify({ version: SKIPPED_VERSION, ranges: ranges.map((r) => [r.from, r.to]) });
  replaceFileSync(dir, SKIPPED_FILE, `${text}\n`);
  return ranges;
}

/** Whether the ranges together cover every offset from `from` up to `to`. */
export function coveredBySkipped(ranges: readonly SkippedRange[], from: number, to: number): boolean {
  let reached = from;
  for (const r of [...ranges].sort((a, b) => a.from - b.from)) {
    if (r.from <= reached && r.to > reached) reached = r.to;
  }
  return reached >= to;
}

function isRange(value: unknown): value is [number, number] {
  return (
    Array.isArray(value) &&
    value.length === 2 &&
    Number.isSafeInteger(value[0]) &&
    Number.isSafeInteger(value[1]) &&
    (value[0] as number) >= 0 &&
    (value[0] as number) < (value[1] as number)
  );
}
