// Where the key of the broker's QUIC stateless reset tokens comes from. It only helps across restarts if it
// is the same after one, so it is taken from something that outlives the process whenever there is such a
// thing: the operator's key, a key file, the TLS private key's file, or the durable storage directory.
import { createHmac, randomBytes } from 'node:crypto';
import { linkSync, lstatSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { BrokerConfig } from './config.js';
import { fileFailure, StartupError } from './startup-error.js';

export interface ResetKey {
  readonly key: Buffer;
  /** Where it came from, for the start-up log (never the key itself). */
  readonly source: string;
  /** Whether a restarted broker will have the same key. */
  readonly survivesRestart: boolean;
}

/**
 * The key's file under FELIX_DURABLE_STORAGE_DIR, beside the tenants' directories: a name starting with '.'
 * is one no tenant can have (NAME_RULE), so a tenant can never collide with it.
 */
export const KEY_FILE_NAME = '.stateless-reset.key';
/** Where earlier versions kept it: a valid tenant name, so the file is moved to KEY_FILE_NAME at start. */
const OLD_KEY_FILE_NAME = 'stateless-reset.key';
const KEY_BYTES = 32;

/**
 * The broker's stateless reset key. Throws a StartupError naming the setting and the file when a key file
 * cannot be read, written or holds no key.
 */
export function resolveResetKey(config: BrokerConfig): ResetKey {
  // Whatever the key's source now: frees the tenant name, and a later start from the directory keeps the key.
  if (config.durableStorageDir !== null) takeOverOldKeyFile(config.durableStorageDir);
  return keyFromSettings(config);
}

function keyFromSettings(config: BrokerConfig): ResetKey {
  if (config.resetKey !== null)
    return { key: Buffer.from(config.resetKey, 'hex'), source: 'FELIX_RESET_KEY', survivesRestart: true };
  if (config.resetKeyFile !== null)
    return {
      key: keyFile(config.resetKeyFile, 'FELIX_RESET_KEY_FILE'),
      source: config.resetKeyFile,
      survivesRestart: true,
    };
  if (config.tlsKey !== null) {
    // A one-way derivation: the reset key reveals nothing of the TLS key, and follows it when it rotates.
    const derived = createHmac('sha256', 'felix-ts stateless reset key')
      .update(readFileSync(config.tlsKey))
      .digest();
    return { key: derived, source: 'derived from FELIX_TLS_KEY', survivesRestart: true };
  }
  if (config.durableStorageDir !== null) {
    const path = join(config.durableStorageDir, KEY_FILE_NAME);
    return { key: keyFile(path, 'FELIX_DURABLE_STORAGE_DIR'), source: path, survivesRestart: true };
  }
  return { key: randomBytes(KEY_BYTES), source: 'random (this run only)', survivesRestart: false };
}

/**
 * An earlier version's key file, moved to KEY_FILE_NAME (the same key: clients' stateless resets after a
 * restart depend on it). A directory of that name is a tenant's, and left alone; when the new file exists
 * already, it is the key, and the old one only goes.
 */
function takeOverOldKeyFile(dir: string): void {
  const old = join(dir, OLD_KEY_FILE_NAME);
  try {
    if (!oldKeyFileExists(old)) return;
    try {
      // A link, not a rename: a key file of the new name is never replaced.
      linkSync(old, join(dir, KEY_FILE_NAME));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    unlinkSync(old);
  } catch (error) {
    throw fileFailure(
      'FELIX_DURABLE_STORAGE_DIR',
      old,
      `cannot move the stateless reset key file: ${cause(error)}`,
    );
  }
}

/** Whether `path` is a file (not a tenant's directory); a storage directory that is none has no file. */
function oldKeyFileExists(path: string): boolean {
  try {
    return lstatSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
  } catch (error) {
    // The storage directory is not one: whoever uses it says so (the key file, or the durable store).
    if ((error as NodeJS.ErrnoException).code === 'ENOTDIR') return false;
    throw error;
  }
}

function cause(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  return e.code !== undefined ? `${e.syscall ?? 'access'} failed (${e.code})` : e.message;
}

/**
 * The key in `path` (hex), written there first — readable by its owner only — when the file is missing.
 * Throws a StartupError naming `setting` and the file when it cannot be read or written.
 */
function keyFile(path: string, setting: string): Buffer {
  try {
    return readOrCreateKeyFile(path, setting);
  } catch (error) {
    if (error instanceof StartupError) throw error;
    throw fileFailure(setting, path, cause(error));
  }
}

function readOrCreateKeyFile(path: string, setting: string): Buffer {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    mkdirSync(dirname(path), { recursive: true });
    const fresh = randomBytes(KEY_BYTES).toString('hex');
    // wx: two brokers starting at once never overwrite each other's key.
    try {
      writeFileSync(path, `${fresh}\n`, { mode: 0o600, flag: 'wx' });
      text = fresh;
    } catch (raced) {
      if ((raced as NodeJS.ErrnoException).code !== 'EEXIST') throw raced;
      text = readFileSync(path, 'utf8').trim();
    }
  }
  if (!/^[0-9a-fA-F]{32,128}$/.test(text))
    throw new StartupError(`${setting}: ${path} does not hold a stateless reset key (32 to 128 hex digits)`, {
      setting,
      value: path,
    });
  return Buffer.from(text, 'hex');
}
