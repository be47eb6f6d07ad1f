/**
 * Small files a durable stream rewrites whole (its metadata, its offset reservation): written to a
 * temporary file, fsynced, renamed over the old one and the directory fsynced — so a crash at any moment
 * leaves either the old content or the new, never a torn or empty file.
 */
import * as fs from 'node:fs';
import { dirname, join } from 'node:path';
import { DamagedFileError, damagedFile } from './damaged-file.js';

/**
 * The JSON in `dir`/`name` (to be checked by the caller), or undefined when there is no such file. Throws a
 * DamagedFileError naming the file when it cannot be read or is not JSON.
 */
export function readJsonFile(dir: string, name: string): unknown {
  const path = join(dir, name);
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') return undefined;
    throw new DamagedFileError(path, damagedFile(e, path).problem, e.code);
  }
  try {
    // null stands for "absent" to callers: a file holding `null` is as damaged as one holding garbage.
    return JSON.parse(text) ?? {};
  } catch (err) {
    throw new DamagedFileError(path, `not JSON (${(err as Error).message})`);
  }
}

/** Makes the directory's entries (a file created or renamed in it) survive a crash. */
export function syncDirectory(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes `text` as the file `name` in `dir`, atomically and durably, blocking. */
export function replaceFileSync(dir: string, name: string, text: string): void {
  const tmp = join(dir, `${name}.tmp`);
  removedOnFailure(tmp, () => {
    writeAndSyncSync(tmp, text);
    fs.renameSync(tmp, join(dir, name));
  });
  syncDirectory(dir);
}

/**
 * Runs `write`, which fills the temporary file `tmp` and renames it into place; when it fails (a full
 * disk), removes what it began, so that failures repeated over a long outage leave no files behind.
 */
export function removedOnFailure(tmp: string, write: () => void): void {
  try {
    write();
  } catch (err) {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // The write's own error says more; a file left here is overwritten by the next attempt.
    }
    throw err;
  }
}

/** Temporary files a crash left between writing and renaming (`*.tmp`) in `dir`, removed; best effort. */
export function removeStaleTemporaries(dir: string): void {
  try {
    for (const name of fs.readdirSync(dir))
      if (name.endsWith('.tmp')) fs.rmSync(join(dir, name), { force: true });
  } catch {
    // Left for the next start: they hold nothing the stream reads.
  }
}

/** Writes `text` to a new file at `path` and fsyncs it. */
function writeAndSyncSync(path: string, text: string): void {
  const fd = fs.openSync(path, 'w');
  try {
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** writeAndSyncSync through the thread pool. */
export async function writeAndSync(path: string, text: string): Promise<void> {
  const handle = await fs.promises.open(path, 'w');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** syncDirectory through the thread pool. */
export async function syncDirectoryAsync(dir: string): Promise<void> {
  const handle = await fs.promises.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * `mkdir -p dir`, failing with the real reason. Node's recursive mkdir reports ENOENT for a directory it
 * could not create whatever the cause (a read-only file system: EROFS, a full one: ENOSPC), which would
 * send an operator looking for a missing path; the directories are then made one by one for the error.
 */
export function makeDirectory(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const missing: string[] = [];
    for (let d = dir; !fs.existsSync(d) && dirname(d) !== d; d = dirname(d)) missing.unshift(d);
    // Throws the first real error; if none comes (another process made them meanwhile), all is made.
    for (const d of missing) fs.mkdirSync(d);
  }
}
