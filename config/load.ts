import { ConfigError, invalidValueError } from './errors.js';
import { readEnvValue, unknownEnvWarnings, type Environment } from './environment.js';
import { PROFILES, type Profile, type Setting, type SettingsSchema } from './setting.js';
import {
  CONFIG_FILE_ENV,
  type Catalogue,
  type CrossCheck,
  type SectionsSchema,
  type SideConfig,
  type SideOverrides,
  type SideShape,
  type SideSpec,
} from './side.js';
import { readYamlFile, type YamlFile } from './yaml-file.js';
import { checkYamlKeys } from './yaml-keys.js';

export type Source = 'default' | 'profile' | 'yaml' | 'env' | 'override';

export interface Provenance {
  readonly source: Source;
  /** Where exactly: "profile high-memory", "/etc/felix/broker.yml line 4", "environment as FELIX_SUB_CONNS", … */
  readonly detail: string;
}

export interface LoadOptions<S extends SettingsSchema, X extends SectionsSchema> {
  /** Defaults to process.env; tests pass their own. */
  readonly env?: Environment;
  /** Wins over FELIX_PROFILE. */
  readonly profile?: string;
  /** Wins over the side's FELIX_*_CONFIG variable. */
  readonly configPath?: string;
  /** The SDK's connect options or the broker's CLI flags: the highest layer. Undefined entries are skipped. */
  readonly overrides?: SideOverrides<S, X>;
  /**
   * How error messages name an override, `profile` and `configPath` included; defaults to "option <key>".
   * The CLI names its flags.
   */
  readonly overrideLabel?: (key: string) => string;
}

export interface ReportLine {
  readonly key: string;
  /** The env name for settings, the YAML key for sections. */
  readonly name: string;
  readonly value: string;
  readonly source: Source;
  readonly detail: string;
}

export interface LoadedConfig<C> {
  /** Frozen. */
  readonly config: C;
  readonly provenance: { readonly [K in keyof C]: Provenance };
  readonly profile: Profile;
  readonly configPath: string | null;
  /** Unknown FELIX_* variables; the caller logs them. */
  readonly warnings: readonly string[];
  /** One line per value with its origin, for the start-up log. */
  readonly report: readonly ReportLine[];
}

const DEFAULT_PROVENANCE: Provenance = Object.freeze({ source: 'default', detail: 'built-in default' });

interface Layer {
  readonly raw: unknown;
  readonly provenance: Provenance;
  /** How an error message names this source. */
  readonly origin: string;
  /** A YAML layer: how an error names a place inside a block (its own line). */
  readonly whereIs?: (path: readonly (string | number)[]) => string;
}

interface LoadContext {
  readonly spec: SideShape;
  readonly env: Environment;
  readonly profile: Profile;
  readonly file: YamlFile | null;
  readonly overrides: Readonly<Record<string, unknown>>;
  readonly overrideLabel: (key: string) => string;
}

function resolveProfile(options: { readonly profile?: string }, env: Environment, label: string): Profile {
  // The environment's is checked even when the option replaces it, as every replaced layer is: a typo
  // hidden behind a wrapper's flag would stop the start the day the flag goes.
  const fromEnv =
    env.FELIX_PROFILE === undefined ? 'balanced' : profileNamed(env.FELIX_PROFILE, 'from the environment');
  return options.profile === undefined ? fromEnv : profileNamed(options.profile, label);
}

function profileNamed(raw: string, origin: string): Profile {
  const profile = PROFILES.find((name) => name === raw);
  if (profile === undefined) {
    throw invalidValueError('FELIX_PROFILE', origin, raw, `one of ${PROFILES.join(', ')}`);
  }
  return profile;
}

function loadYamlFile(
  spec: SideShape,
  options: { readonly configPath?: string },
  env: Environment,
  label: string,
): YamlFile | null {
  const fileEnv = CONFIG_FILE_ENV[spec.side];
  // A path the option replaces is checked as a value; its file is not read (the option chose another).
  if (env[fileEnv] === '') throw invalidValueError(fileEnv, fileEnv, '', 'the path of a YAML file');
  const [path, pathSource] =
    options.configPath !== undefined ? [options.configPath, label] : [env[fileEnv], fileEnv];
  if (path === undefined) return null;
  if (path === '') throw invalidValueError(fileEnv, pathSource, path, 'the path of a YAML file');
  return readYamlFile(path, pathSource);
}

function yamlLayer(context: LoadContext, yamlKey: string): Layer | undefined {
  const entry = context.file?.entries.get(yamlKey);
  if (context.file === null || entry === undefined) return undefined;
  const detail = `${context.file.path} line ${entry.line}`;
  const path = context.file.path;
  return {
    raw: entry.value,
    provenance: { source: 'yaml', detail },
    origin: `YAML key ${yamlKey} in ${detail}`,
    whereIs: (inner) => `YAML key ${yamlKey} in ${path} line ${entry.lineOf(inner)}`,
  };
}

function overrideLayer(context: LoadContext, key: string): Layer | undefined {
  const raw = context.overrides[key];
  if (raw === undefined) return undefined;
  const label = context.overrideLabel(key);
  return { raw, provenance: { source: 'override', detail: label }, origin: label };
}

function settingLayers(context: LoadContext, key: string, setting: Setting<unknown>) {
  const layers: (Layer | undefined)[] = [];
  if (context.profile !== 'balanced' && context.profile in setting.profiles) {
    const detail = `profile ${context.profile}`;
    layers.push({
      raw: setting.profiles[context.profile],
      provenance: { source: 'profile', detail },
      origin: detail,
    });
  }
  layers.push(yamlLayer(context, setting.yamlKey));
  const fromEnv = readEnvValue(setting, context.env);
  if (fromEnv !== undefined) {
    const detail = fromEnv.name === setting.env ? 'environment' : `environment as ${fromEnv.name}`;
    layers.push({ raw: fromEnv.text, provenance: { source: 'env', detail }, origin: `from the ${detail}` });
  }
  layers.push(overrideLayer(context, key));
  return layers.filter((layer): layer is Layer => layer !== undefined);
}

interface Resolved {
  readonly value: unknown;
  readonly provenance: Provenance;
}

/** Every layer is validated, even one a higher layer replaces: a bad value anywhere is reported. */
function resolveSetting(context: LoadContext, key: string, setting: Setting<unknown>): Resolved {
  let resolved: Resolved = { value: setting.default, provenance: DEFAULT_PROVENANCE };
  for (const layer of settingLayers(context, key, setting)) {
    const value = setting.kind.parse(layer.raw);
    if (value === undefined) {
      // A credential's value stays out of the message: an operator sees which setting, not the secret.
      const shown = setting.secret === true ? '(hidden)' : layer.raw;
      const refusal = setting.secret === true ? undefined : setting.kind.refusal?.(layer.raw);
      throw invalidValueError(setting.env, layer.origin, shown, setting.kind.allowed, refusal);
    }
    resolved = { value, provenance: layer.provenance };
  }
  return resolved;
}

function resolveSection(context: LoadContext, key: string): Resolved {
  const section = context.spec.sections[key];
  let resolved: Resolved = { value: section.default, provenance: DEFAULT_PROVENANCE };
  for (const layer of [yamlLayer(context, section.yamlKey), overrideLayer(context, key)]) {
    if (layer !== undefined) {
      resolved = {
        value: section.parse(layer.raw, layer.origin, layer.whereIs),
        provenance: layer.provenance,
      };
    }
  }
  return resolved;
}

function describeValue(spec: SideShape, key: string, value: unknown) {
  const setting = spec.settings[key];
  if (setting !== undefined) return { name: setting.env, value: setting.kind.format(value) };
  const section = spec.sections[key];
  return { name: section.yamlKey, value: section.format(value) };
}

/**
 * Every broken rule, one line each: one value often breaks several (a larger FELIX_MAX_FRAME_BYTES
 * outgrows two budgets), and naming only the first would have the operator fix one, restart, and meet the
 * next.
 */
function checkConsistency<C>(
  spec: SideShape,
  checks: readonly CrossCheck<C>[],
  config: C,
  provenance: Readonly<Record<string, Provenance>>,
): void {
  const broken = checks.filter((check) => !check.holds(config));
  if (broken.length === 0) return;
  const lines = broken.map((check) => {
    const involved = check.settings.map((key) => {
      const { name, value } = describeValue(spec, key, config[key]);
      return `${name}=${value} (${provenance[key].detail})`;
    });
    return `Inconsistent settings: ${check.rule}. Current values: ${involved.join(', ')}.`;
  });
  const names = new Set(
    broken.flatMap((check) => check.settings.map((key) => describeValue(spec, key, config[key]).name)),
  );
  throw new ConfigError(lines.join('\n'), { setting: [...names].join(', ') });
}

/**
 * Resolves one side's configuration. Precedence, lowest first: built-in defaults < profile (FELIX_PROFILE)
 * < YAML file (FELIX_BROKER_CONFIG / FELIX_CLIENT_CONFIG) < environment < explicit options.
 * Throws ConfigError on the first bad value or unknown YAML key, or naming every broken cross-setting rule.
 */
export function loadSide<S extends SettingsSchema, X extends SectionsSchema>(
  spec: SideSpec<S, X>,
  catalogue: Catalogue,
  options: LoadOptions<S, X> = {},
): LoadedConfig<SideConfig<S, X>> {
  const env = options.env ?? process.env;
  const overrideLabel = options.overrideLabel ?? ((key: string) => `option ${key}`);
  const profile = resolveProfile(options, env, overrideLabel('profile'));
  const file = loadYamlFile(spec, options, env, overrideLabel('configPath'));
  if (file !== null) checkYamlKeys(spec, file, catalogue);
  const context: LoadContext = {
    spec,
    env,
    profile,
    file,
    overrides: (options.overrides ?? {}) as Readonly<Record<string, unknown>>,
    overrideLabel,
  };

  const resolved = [
    ...Object.entries(spec.settings).map(
      ([key, setting]) => [key, resolveSetting(context, key, setting)] as const,
    ),
    ...Object.keys(spec.sections).map((key) => [key, resolveSection(context, key)] as const),
  ];
  const values = Object.fromEntries(resolved.map(([key, { value }]) => [key, value]));
  const provenance = Object.fromEntries(resolved.map(([key, entry]) => [key, entry.provenance]));
  const config = Object.freeze(values) as SideConfig<S, X>;
  checkConsistency(spec, spec.checks, config, provenance);

  const report = Object.keys(values).map((key) => ({
    key,
    ...describeValue(spec, key, values[key]),
    ...provenance[key],
  }));
  return Object.freeze({
    config,
    provenance: Object.freeze(provenance) as LoadedConfig<SideConfig<S, X>>['provenance'],
    profile,
    configPath: file?.path ?? null,
    warnings: Object.freeze(unknownEnvWarnings(env, catalogue.knownEnvNames)),
    report: Object.freeze(report),
  });
}
