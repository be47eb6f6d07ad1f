// Where the key of the broker's QUIC stateless reset tokens comes from. It only helps across restarts if it
// is the same after one, so it is taken from something that outlives the process whenever there is such a
// thing: the operator's key, a key file, the TLS private key's file, the durable storage directory, or, on
// a broker started with none of them (the quick start), the host's machine id.
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
export function resolveResetKey(
  config: BrokerConfig,
  machineIdFiles: readonly string[] = MACHINE_ID_FILES,
): ResetKey {
  // Whatever the key's source now: frees the tenant name, and a later start from the directory keeps the key.
  if (config.durableStorageDir !== null) takeOverOldKeyFile(config.durableStorageDir);
  return keyFromSettings(config) ?? keyFromMachineId(machineIdFiles) ?? randomKey();
}

/** Where systemd and D-Bus keep the host's machine id (machine-id(5)): 32 lowercase hex digits. */
export const MACHINE_ID_FILES: readonly string[] = ['/etc/machine-id', '/var/lib/dbus/machine-id'];
const MACHINE_ID = /^[0-9a-f]{32}$/;

/**
 * A key derived from the host's machine id: the same at every start on this host, whatever the broker's
 * address (a restart on another port, a bind of port 0 first), with nothing to configure, so a restarted
 * quick-start broker's clients reconnect at once instead of at their idle timeout. The machine id is
 * confidential by its definition (machine-id(5)), never sent, and the key a one-way derivation of it. A
 * forged reset also needs a connection id, which only a peer on the path sees — and one there can drop the
 * packets anyway. Brokers sharing a host share the key, which is harmless: a token answers one connection
 * id, and only that connection's peer acts on it. Undefined without a machine id.
 */
function keyFromMachineId(files: readonly string[]): ResetKey | undefined {
  for (const path of files) {
    let id: string;
    try {
      id = readFileSync(path, 'utf8').trim();
    } catch {
      continue;
    }
    if (!MACHINE_ID.test(id)) continue;
    const key = createHmac('sha256', 'felix-ts stateless reset key').update(`machine-id ${id}`).digest();
    return { key, source: `derived from ${path}`, survivesRestart: true };
  }
  return undefined;
}

function randomKey(): ResetKey {
  return { key: randomBytes(KEY_BYTES), source: 'random (this run only)', survivesRestart: false };
}

function keyFromSettings(config: BrokerConfig): ResetKey | undefined {
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
  return undefined;
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
