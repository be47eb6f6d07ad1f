/**
 * connect() options: the SDK's own options (where the broker is, who we are, timeouts) next to every
 * FELIX_* client setting by its property name. They are merged with the environment and YAML exactly once,
 * at connect, as nats.js does, and frozen.
 */
import { clientSide } from '../config/client-settings.js';
import type { Environment } from '../config/environment.js';
import { ConfigError } from '../config/errors.js';
import { parseBindAddress } from '../config/kinds.js';
import { quotedName } from '../config/shown-name.js';
import { didYouMean, suggestNames } from '../config/suggest.js';
import { loadClientConfig, type ClientConfig, type ClientSettingOptions } from './config.js';

export const DEFAULT_BROKER = '127.0.0.1:5000';
const DEFAULT_PORT = 5000;

/** Supplies the token a stream authenticates with; asked at every auth, so it can refresh. */
export type TokenProvider = () => string | Promise<string>;
/** A fixed token or a provider. */
export type TokenSource = string | TokenProvider;

/** Options of the SDK itself, which are not FELIX_* settings. */
export interface SessionOptions {
  /** host:port of the broker's QUIC endpoint; the port defaults to 5000. Default 127.0.0.1:5000. */
  broker?: string;
  /** Tenant every stream authenticates as, and whose streams publish/subscribe name. Default 't1'. */
  tenant?: string;
  /**
   * Sent in every stream's `auth`: the explicit form of FELIX_AUTH_TOKEN (the same as option `authToken`;
   * set one of the two). Default: FELIX_AUTH_TOKEN, else ''.
   */
  token?: string;
  /**
   * Called for a token each time a stream authenticates (at connect, and on every reconnect): how a client
   * whose tokens expire supplies fresh ones. The broker closes a connection when its token expires
   * (`token_expired`); the SDK reconnects and asks again. Instead of `token`, not with it.
   */
  tokenProvider?: TokenProvider;
  /** Namespace used when a call does not name one. Default 'default'. */
  namespace?: string;
  /** How long a publish waits for its ack before it fails with `timeout`. Default 30000 ms. */
  requestTimeoutMs?: number;
  /** Bound on reaching the broker (QUIC handshake and auth) in connect() and when a pool grows. Default 10000 ms. */
  connectTimeoutMs?: number;
  /** Bound on close() flushing accepted publishes and waiting for their acks. Default 5000 ms. */
  closeTimeoutMs?: number;
  /**
   * Bytes a publish worker queues in the client while the transport pushes back (beyond them, publish()
   * waits). Total client-side queueing is at most this × FELIX_PUB_CONN_POOL × FELIX_PUB_STREAMS_PER_CONN.
   * Default 4 MiB.
   */
  publishQueueBytes?: number;
  /** Receives warnings: the lenient-TLS notice, unknown FELIX_* variables, unmatched broker errors. */
  onWarning?: (message: string) => void;
}

/** Where settings come from, as loadClientConfig takes them (tests pass their own environment). */
export interface ConfigSourceOptions {
  /** Defaults to process.env. */
  env?: Environment;
  /** Wins over FELIX_PROFILE. */
  profile?: string;
  /** Wins over FELIX_CLIENT_CONFIG. */
  configPath?: string;
}

export type ConnectOptions = SessionOptions & ConfigSourceOptions & ClientSettingOptions;

export interface ResolvedOptions {
  readonly config: ClientConfig;
  readonly host: string;
  readonly port: number;
  readonly tenant: string;
  /** A fixed token, or the provider asked at every auth. */
  readonly token: TokenSource;
  readonly namespace: string;
  readonly requestTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly closeTimeoutMs: number;
  readonly publishQueueBytes: number;
  readonly onWarning: (message: string) => void;
}

const SESSION_KEYS = [
  'broker',
  'tenant',
  'token',
  'tokenProvider',
  'namespace',
  'requestTimeoutMs',
  'connectTimeoutMs',
  'closeTimeoutMs',
  'publishQueueBytes',
  'onWarning',
] as const satisfies readonly (keyof SessionOptions)[];
const SOURCE_KEYS = [
  'env',
  'profile',
  'configPath',
] as const satisfies readonly (keyof ConfigSourceOptions)[];

const MiB = 1024 * 1024;

function defaultWarning(message: string): void {
  process.emitWarning(message, 'FelixWarning');
}

/** How an error names the connect option (by its name in ConnectOptions) that set a bad value. */
export type OptionLabel = (option: string) => string;

const optionLabel: OptionLabel = (option) => `option ${option}`;

/**
 * Merges `options` with defaults, profile, YAML and environment once; throws ConfigError on any bad value.
 * `label` names an option in those errors; a program that fills the options from its own flags names the
 * flags instead, which is what its user typed.
 */
export function resolveOptions(
  options: ConnectOptions = {},
  label: OptionLabel = optionLabel,
): ResolvedOptions {
  const settingKeys = Object.keys(clientSide.settings);
  const known = new Set<string>([...SESSION_KEYS, ...SOURCE_KEYS, ...settingKeys]);
  for (const key of Object.keys(options)) {
    if (!known.has(key)) {
      throw new ConfigError(`Unknown connect option ${key}.${didYouMean(suggestNames(key, known))}`, {
        setting: key,
      });
    }
  }
  const overrides: Record<string, unknown> = {};
  for (const key of settingKeys) overrides[key] = (options as Record<string, unknown>)[key];
  overrides.authToken = tokenOption(options);
  const loaded = loadClientConfig({
    env: options.env,
    profile: options.profile,
    configPath: options.configPath,
    overrides: overrides as ClientSettingOptions,
    // `token` is the SDK's name for the authToken setting: an error names the one the caller set.
    overrideLabel: (key) => label(key === 'authToken' && options.token !== undefined ? 'token' : key),
  });
  const onWarning = options.onWarning ?? defaultWarning;
  for (const warning of loaded.warnings) onWarning(warning);
  const { host, port } = parseBroker(options.broker ?? DEFAULT_BROKER);
  return Object.freeze({
    config: loaded.config,
    host,
    port,
    tenant: name(options.tenant, 'tenant', 't1'),
    token: tokenSource(options, loaded.config.authToken),
    namespace: name(options.namespace, 'namespace', 'default'),
    requestTimeoutMs: positiveInteger(options.requestTimeoutMs, 'requestTimeoutMs', 30_000),
    connectTimeoutMs: positiveInteger(options.connectTimeoutMs, 'connectTimeoutMs', 10_000),
    closeTimeoutMs: positiveInteger(options.closeTimeoutMs, 'closeTimeoutMs', 5_000),
    publishQueueBytes: positiveInteger(options.publishQueueBytes, 'publishQueueBytes', 4 * MiB),
    onWarning,
  });
}

/** The provider when one was given, else the fixed token (FELIX_AUTH_TOKEN / `token`), else ''. */
function tokenSource(options: ConnectOptions, token: string | null | undefined): TokenSource {
  if (options.tokenProvider === undefined) return token ?? '';
  if (typeof options.tokenProvider !== 'function') {
    throw new ConfigError('Connect option tokenProvider must be a function returning a token.', {
      setting: 'tokenProvider',
    });
  }
  if (options.token !== undefined || options.authToken !== undefined) {
    throw new ConfigError('Connect options token and tokenProvider are both set; set only one.', {
      setting: 'tokenProvider',
    });
  }
  return options.tokenProvider;
}

/** `token` is the SDK's name for the authToken setting; both at once would be ambiguous. */
function tokenOption(options: ConnectOptions): string | undefined {
  if (options.token !== undefined && options.authToken !== undefined) {
    throw new ConfigError(
      'Connect options token and authToken are both set, but they name the same setting; set only token.',
      {
        setting: 'token',
      },
    );
  }
  return options.token ?? (options.authToken as string | undefined);
}

/** What a broker address may be, for the messages that refuse one. */
export const BROKER_ADDRESS_RULE = 'host:port such as 127.0.0.1:5000, broker.internal:5000 or [::1]:5000';

/** `host:port`, `[v6]:port`, or a bare host (port 5000); undefined otherwise. Port 0 cannot be connected to. */
export function brokerAddressOf(text: string): { host: string; port: number } | undefined {
  const withPort = /:\d+$/.test(text) && !/^[^[]*:.*:/.test(text) ? text : `${text}:${DEFAULT_PORT}`;
  const address = parseBindAddress(withPort);
  if (address === undefined || address.port === 0) return undefined;
  return { host: address.host, port: address.port };
}

/** brokerAddressOf, or a ConfigError naming the connect option. */
export function parseBroker(text: string): { host: string; port: number } {
  const address = brokerAddressOf(text);
  if (address === undefined) {
    throw new ConfigError(
      `Invalid connect option broker=${JSON.stringify(text)}: expected ${BROKER_ADDRESS_RULE}`,
      {
        setting: 'broker',
        value: text,
      },
    );
  }
  return address;
}

function positiveInteger(value: number | undefined, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new ConfigError(`Invalid connect option ${option}=${String(value)}: expected a positive integer`, {
      setting: option,
      value,
    });
  }
  return value;
}

function name(value: string | undefined, option: string, fallback: string): string {
  if (value === undefined) return fallback;
  if (value === '' || Buffer.byteLength(value) > 0xffff) {
    throw new ConfigError(
      `Invalid connect option ${option}=${quotedName(value)}: expected a non-empty name`,
      {
        setting: option,
        value,
      },
    );
  }
  return value;
}
