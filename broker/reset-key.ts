// Where the key of the broker's QUIC stateless reset tokens comes from. It only helps across restarts if it
// is the same after one, so it is taken from something that outlives the process whenever there is such a
// thing: the operator's key, a key file, the TLS private key's file, or the durable storage directory.
import { createHmac, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { BrokerConfig } from './config.js';

export interface ResetKey {
  readonly key: Buffer;
  /** Where it came from, for the start-up log (never the key itself). */
  readonly source: string;
  /** Whether a restarted broker will have the same key. */
  readonly survivesRestart: boolean;
}

const KEY_FILE_NAME = 'stateless-reset.key';
const KEY_BYTES = 32;

export function resolveResetKey(config: BrokerConfig): ResetKey {
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

/** The key in `path` (hex), written there first — readable by its owner only — when the file is missing. */
function keyFile(path: string, setting: string): Buffer {
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
    throw new Error(`${setting}: ${path} does not hold a stateless reset key (32 to 128 hex digits)`);
  return Buffer.from(text, 'hex');
}
