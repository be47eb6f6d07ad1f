export interface ConfigErrorDetails {
  /** The setting's environment name (FELIX_…), or the YAML key for file-only sections. */
  readonly setting?: string;
  readonly value?: unknown;
  /** Human description of what would have been accepted. */
  readonly allowed?: string;
}

/** Every configuration problem that must stop start-up; the message alone is enough to fix it. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly setting: string | undefined;
  readonly value: unknown;
  readonly allowed: string | undefined;

  constructor(message: string, details: ConfigErrorDetails = {}) {
    super(message);
    this.setting = details.setting;
    this.value = details.value;
    this.allowed = details.allowed;
  }
}

/** Strings are quoted so that empty values and stray spaces are visible in the message. */
export function showValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || value === undefined) return 'no value';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/**
 * `refusal` says what is wrong with the value when `allowed` alone would not ("it is not PEM").
 * `origin` says where the value came from ("from the environment", "YAML key event_conn_pool in
 * /etc/felix/client.yml line 3", "option eventConnPool"), so the operator knows which knob to turn.
 */
export function invalidValueError(
  setting: string,
  origin: string,
  value: unknown,
  allowed: string,
  refusal?: string,
): ConfigError {
  const why = refusal === undefined ? '' : `: ${refusal}`;
  return new ConfigError(
    `Invalid ${setting} (${origin}): got ${showValue(value)}${why}; allowed: ${allowed}.`,
    {
      setting,
      value,
      allowed,
    },
  );
}
