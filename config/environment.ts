import { ConfigError } from './errors.js';
import type { Setting } from './setting.js';
import { didYouMean, suggestNames } from './suggest.js';

export type Environment = Readonly<Record<string, string | undefined>>;

export interface EnvValue {
  readonly name: string;
  readonly text: string;
}

/** The setting's value in the environment under its name or one alias; both at once is ambiguous. */
export function readEnvValue(setting: Setting<unknown>, env: Environment): EnvValue | undefined {
  const present = [setting.env, ...setting.envAliases].flatMap((name) => {
    const text = env[name];
    return text === undefined ? [] : [{ name, text }];
  });
  if (present.length > 1) {
    throw new ConfigError(
      `${present.map(({ name }) => name).join(' and ')} are both set, but they name the same setting; ` +
        `set only ${setting.env}.`,
      { setting: setting.env },
    );
  }
  return present[0];
}

/**
 * A warning per FELIX_* variable that no setting of either side reads. Warnings, not errors: broker and
 * client often share one environment, and each must start even though the other's names are present.
 */
export function unknownEnvWarnings(env: Environment, knownNames: ReadonlySet<string>): string[] {
  return Object.keys(env)
    .filter((name) => name.startsWith('FELIX_') && env[name] !== undefined && !knownNames.has(name))
    .sort()
    .map(
      (name) =>
        `${name} is set but no felix-ts setting has that name, so it changes nothing.` +
        didYouMean(suggestNames(name, knownNames)),
    );
}
