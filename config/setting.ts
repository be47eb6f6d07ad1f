import {
  bindAddressKind,
  booleanKind,
  byteSizeKind,
  certificateFileKind,
  durationKind,
  enumKind,
  filePathKind,
  integerKind,
  parseBindAddress,
  stringKind,
  type BindAddress,
  type DurationUnit,
  type Kind,
  type NumericRange,
} from './kinds.js';

export const PROFILES = ['balanced', 'high-memory'] as const;
export type Profile = (typeof PROFILES)[number];
/** `balanced` is the built-in defaults, so only the other profiles carry values of their own. */
export type TunedProfile = Exclude<Profile, 'balanced'>;

export type EnvName = `FELIX_${string}`;

/**
 * One knob. Its three spellings derive from one name so they cannot drift apart:
 * env FELIX_EVENT_CONN_POOL ↔ YAML key event_conn_pool ↔ property eventConnPool.
 */
export interface Setting<T> {
  readonly env: EnvName;
  readonly yamlKey: string;
  /** Other environment names read for the same setting (Felix spellings); setting two at once is an error. */
  readonly envAliases: readonly EnvName[];
  readonly kind: Kind<T>;
  readonly default: T;
  readonly profiles: Readonly<Partial<Record<TunedProfile, T>>>;
  /** One paragraph: what the value changes, for docs/configuration.md. */
  readonly doc: string;
  /** A credential: its value never appears in errors, logs or reports (only whether it is set). */
  readonly secret?: boolean;
}

export type SettingValue<S> = S extends Setting<infer T> ? T : never;
export type SettingsSchema = Readonly<Record<string, Setting<unknown>>>;
export type SettingsOf<S extends SettingsSchema> = { readonly [K in keyof S]: SettingValue<S[K]> };

interface SettingSpec<T> {
  readonly env: EnvName;
  readonly default: T;
  readonly doc: string;
  readonly profiles?: Partial<Record<TunedProfile, T>>;
  readonly envAliases?: readonly EnvName[];
}

const ENV_PREFIX = 'FELIX_';

export function yamlKeyOf(env: string): string {
  return env.slice(ENV_PREFIX.length).toLowerCase();
}

export function camelKeyOf(yamlKey: string): string {
  return yamlKey.replace(/_([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
}

/** Defaults and profile values are code, so a bad one is a programming error, caught at import time. */
function assertAcceptable<T>(env: string, what: string, kind: Kind<T>, value: T): void {
  if (value !== null && kind.parse(value) === undefined) {
    throw new Error(`${env}: ${what} ${kind.format(value)} is not ${kind.allowed}`);
  }
}

function makeSetting<T>(spec: SettingSpec<T>, kind: Kind<T>): Setting<T> {
  const profiles = spec.profiles ?? {};
  assertAcceptable(spec.env, 'default', kind, spec.default);
  for (const [profile, value] of Object.entries(profiles) as [TunedProfile, T][]) {
    assertAcceptable(spec.env, `${profile} value`, kind, value);
  }
  return Object.freeze({
    env: spec.env,
    yamlKey: yamlKeyOf(spec.env),
    envAliases: Object.freeze([...(spec.envAliases ?? [])]),
    kind,
    default: spec.default,
    profiles: Object.freeze({ ...profiles }),
    doc: spec.doc,
  });
}

export function integer(
  spec: SettingSpec<number> & NumericRange & { readonly unit: string },
): Setting<number> {
  return makeSetting(spec, integerKind(spec));
}

export function byteSize(spec: SettingSpec<number> & NumericRange): Setting<number> {
  return makeSetting(spec, byteSizeKind(spec));
}

/** The unit comes from the name (…_MS or …_US), so a name can never lie about its unit. */
export function duration(spec: SettingSpec<number> & NumericRange): Setting<number> {
  const suffix = /_(MS|US)$/.exec(spec.env)?.[1];
  if (suffix === undefined) throw new Error(`${spec.env}: a duration's name must end in _MS or _US`);
  return makeSetting(spec, durationKind(suffix.toLowerCase() as DurationUnit, spec));
}

export function flag(spec: SettingSpec<boolean>): Setting<boolean> {
  return makeSetting(spec, booleanKind);
}

export function oneOf<const V extends readonly string[]>(
  spec: SettingSpec<V[number]> & { readonly values: V },
): Setting<V[number]> {
  return makeSetting(spec, enumKind(spec.values));
}

/** Unset (null) by default: an optional string whose absence has a documented meaning. */
export function text(
  spec: Omit<SettingSpec<string | null>, 'default' | 'profiles'> & {
    readonly pattern: RegExp;
    readonly describe: string;
  },
): Setting<string | null> {
  return makeSetting({ ...spec, default: null }, stringKind(spec.pattern, spec.describe));
}

export function bindAddress(
  spec: Omit<SettingSpec<BindAddress>, 'default' | 'profiles'> & { readonly default: string },
): Setting<BindAddress> {
  const parsed = parseBindAddress(spec.default);
  if (parsed === undefined) throw new Error(`${spec.env}: default ${spec.default} is not host:port`);
  return makeSetting({ ...spec, default: parsed }, bindAddressKind);
}

/** Unset (null) by default: an optional file whose absence has a documented meaning. */
export function filePath(
  spec: Omit<SettingSpec<string | null>, 'default' | 'profiles'>,
): Setting<string | null> {
  return makeSetting({ ...spec, default: null }, filePathKind);
}

/** Unset (null) by default: an optional file of PEM certificates, checked to hold some when read. */
export function certificateFile(
  spec: Omit<SettingSpec<string | null>, 'default' | 'profiles'>,
): Setting<string | null> {
  return makeSetting({ ...spec, default: null }, certificateFileKind);
}

/** A setting whose value must not appear in logs or reports: it is shown only as set or unset. */
export function secret(setting: Setting<string | null>): Setting<string | null> {
  return Object.freeze({
    ...setting,
    secret: true,
    kind: { ...setting.kind, format: (value: string | null) => (value === null ? 'unset' : '(set, hidden)') },
  });
}

/** Freezes a side's settings after checking each property is named after its setting. */
export function defineSettings<S extends SettingsSchema>(settings: S): S {
  for (const [key, setting] of Object.entries(settings)) {
    const expected = camelKeyOf(setting.yamlKey);
    if (key !== expected) {
      throw new Error(`setting ${setting.env} must be declared as "${expected}", not "${key}"`);
    }
  }
  return Object.freeze(settings);
}
