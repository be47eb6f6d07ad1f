/**
 * The default of FELIX_DURABLE_MAX_OPEN_STREAMS, from the process's open-file limit: durable streams get
 * what sockets, the HTTP port and readers leave them (open-file-budget.ts bounds them to it).
 */
import * as fs from 'node:fs';

/** Descriptors kept for sockets (client connections, the HTTP port), readers and directory syncs. */
const RESERVED_FRACTION = 4;
const MIN_RESERVED = 64;
/** Each stream holds up to two write files (its active segment and its producer journal). */
const FILES_PER_STREAM = 2;
const MIN_STREAMS = 16;
const MAX_DEFAULT_STREAMS = 4096;
/** When the limit cannot be read (not Linux): safe under the smallest common soft limit (256, macOS). */
const FALLBACK_STREAMS = 64;

/**
 * The default bound (FELIX_DURABLE_MAX_OPEN_STREAMS 0): from the process's soft RLIMIT_NOFILE, keeping a
 * quarter of it (at least 64) for everything else, two descriptors per stream.
 */
export function defaultOpenStreams(softLimit: number | undefined): number {
  if (softLimit === undefined) return FALLBACK_STREAMS;
  if (!Number.isFinite(softLimit)) return MAX_DEFAULT_STREAMS;
  const reserved = Math.max(MIN_RESERVED, Math.floor(softLimit / RESERVED_FRACTION));
  const streams = Math.floor((softLimit - reserved) / FILES_PER_STREAM);
  return Math.min(MAX_DEFAULT_STREAMS, Math.max(MIN_STREAMS, streams));
}

/**
 * The soft limit on open files (Node has no getrlimit; Linux shows it in /proc/self/limits): Infinity when
 * unlimited, undefined when it cannot be read.
 */
export function readSoftFileLimit(): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return undefined;
  }
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(text);
  if (m === null) return undefined;
  return m[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(m[1]);
}
