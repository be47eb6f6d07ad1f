/**
 * A durable stream's metadata (`stream.json` beside its segments): what must survive a restart besides the
 * records — the stream's epoch, so that offsets keep their meaning across restarts. Written once, when the
 * stream is created, atomically (atomic-file.ts).
 */
import { join } from 'node:path';
import { makeDirectory, readJsonFile, replaceFileSync } from './atomic-file.js';
import { DamagedFileError } from './damaged-file.js';

export const META_FILE = 'stream.json';
const META_VERSION = 1;

export interface StreamMeta {
  readonly version: number;
  readonly tenant: string;
  readonly namespace: string;
  readonly stream: string;
  /** The stream's epoch (incarnation id): a non-zero integer below 2^53. */
  readonly epoch: number;
  /** When the stream was first created, ISO 8601. */
  readonly createdAt: string;
}

/**
 * The metadata in `dir`, or undefined when the stream has none yet. Throws a DamagedFileError naming the
 * file when it cannot be read or is not stream metadata this broker knows.
 */
export function readStreamMeta(dir: string): StreamMeta | undefined {
  const meta = readJsonFile(dir, META_FILE) as Partial<StreamMeta> | undefined;
  if (meta === undefined) return undefined;
  if (meta.version !== META_VERSION || !Number.isSafeInteger(meta.epoch) || (meta.epoch ?? 0) <= 0) {
    throw new DamagedFileError(join(dir, META_FILE), `not a version ${META_VERSION} stream metadata file`);
  }
  return meta as StreamMeta;
}

export function writeStreamMeta(dir: string, meta: Omit<StreamMeta, 'version'>): StreamMeta {
  makeDirectory(dir);
  const full: StreamMeta = { version: META_VERSION, ...meta };
  replaceFileSync(dir, META_FILE, `${JSON.stringify(full, null, 2)}\n`);
  return full;
}
