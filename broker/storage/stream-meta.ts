/**
 * A durable stream's metadata (`stream.json` beside its segments): what must survive a restart besides the
 * records — the stream's epoch, so that offsets keep their meaning across restarts. Written once, when the
 * stream is created, atomically (a temporary file, fsync, rename, fsync of the directory).
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { DamagedFileError, damagedFile } from './damaged-file.js';

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
  const path = join(dir, META_FILE);
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') return undefined;
    throw new DamagedFileError(path, damagedFile(e, path).problem, e.code);
  }
  let meta: Partial<StreamMeta> | null;
  try {
    meta = JSON.parse(text) as Partial<StreamMeta> | null;
  } catch (err) {
    throw new DamagedFileError(path, `not JSON (${(err as Error).message})`);
  }
  if (meta?.version !== META_VERSION || !Number.isSafeInteger(meta.epoch) || (meta.epoch ?? 0) <= 0) {
    throw new DamagedFileError(path, `not a version ${META_VERSION} stream metadata file`);
  }
  return meta as StreamMeta;
}

export function writeStreamMeta(dir: string, meta: Omit<StreamMeta, 'version'>): StreamMeta {
  fs.mkdirSync(dir, { recursive: true });
  const full: StreamMeta = { version: META_VERSION, ...meta };
  const tmp = join(dir, `${META_FILE}.tmp`);
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, `${JSON.stringify(full, null, 2)}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, join(dir, META_FILE));
  const dirFd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(dirFd);
  } finally {
    fs.closeSync(dirFd);
  }
  return full;
}
