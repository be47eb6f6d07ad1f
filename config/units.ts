export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
export const TiB = 1024 * GiB;

/** Binary suffixes only: "64KB" could mean 64000 or 65536, and a guess is a silent fallback. */
const BYTE_SUFFIXES: readonly (readonly [suffix: string, factor: number])[] = [
  ['TiB', TiB],
  ['GiB', GiB],
  ['MiB', MiB],
  ['KiB', KiB],
  ['B', 1],
];

export const BYTE_SUFFIX_NAMES: readonly string[] = BYTE_SUFFIXES.map(([suffix]) => suffix);

const BYTE_SIZE_PATTERN = /^(\d+)\s?([A-Za-z]*)$/;

/** "65536", "64KiB", "64 KiB" → 65536; anything else (decimals, signs, unknown suffixes) → undefined. */
export function parseByteSize(text: string): number | undefined {
  const match = BYTE_SIZE_PATTERN.exec(text);
  if (match === null) return undefined;
  const [, digits, suffix] = match;
  const factor =
    suffix === '' ? 1 : BYTE_SUFFIXES.find(([name]) => name.toLowerCase() === suffix.toLowerCase())?.[1];
  if (factor === undefined) return undefined;
  const bytes = Number(digits) * factor;
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

function formatExactBytes(bytes: number): string {
  for (const [suffix, factor] of BYTE_SUFFIXES) {
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor} ${suffix}`;
  }
  return `${bytes} B`;
}

/**
 * The largest binary unit that divides the value exactly: 268435456 → "256 MiB", 1350 → "1350 B".
 * Limits just under a GiB boundary, such as a u32 length, read better as a difference: "4 GiB − 1 B".
 */
export function formatBytes(bytes: number): string {
  const shortfall = (GiB - (bytes % GiB)) % GiB;
  if (bytes > GiB && shortfall > 0 && shortfall < 64 * KiB) {
    return `${formatExactBytes(bytes + shortfall)} − ${formatExactBytes(shortfall)}`;
  }
  return formatExactBytes(bytes);
}

/** The same size as formatBytes but without the space, so it reads back through parseByteSize in YAML. */
export function formatBytesCompact(bytes: number): string {
  return formatBytes(bytes).replace(' ', '');
}

/** Digits only: Number() alone would accept "0x10", "1e3", " 12" and "", each a typo we must reject. */
export function parseDecimalInteger(text: string): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : undefined;
}
