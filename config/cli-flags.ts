import { Option, type Command } from 'commander';
import { packageVersion } from '../cli/version.js';
import { ConfigError } from './errors.js';
import type { LoadOptions } from './load.js';
import type { SettingsSchema } from './setting.js';
import type { SectionsSchema } from './side.js';

/** eventConnPool → --event-conn-pool; commander maps the flag back to the same property name. */
export function flagNameOf(key: string): string {
  return `--${key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
}

/**
 * Adds --profile, --config and one flag per setting. Every flag takes a value, booleans included
 * (--disable-timings 1), so that each flag is read by the same parser as its environment variable.
 * The shorthands of settings the side has (--pretty, --write-cert) are added too.
 */
export function addSettingFlags(command: Command, settings: SettingsSchema): Command {
  command.addOption(new Option('--profile <name>', 'settings profile; wins over FELIX_PROFILE'));
  command.addOption(
    new Option('--config <path>', 'YAML configuration file; wins over the FELIX_*_CONFIG variable'),
  );
  for (const [key, setting] of Object.entries(settings)) {
    const help = `${setting.env}: ${setting.kind.allowed} (default ${setting.kind.format(setting.default)})`;
    command.addOption(new Option(`${flagNameOf(key)} <value>`, help));
  }
  for (const shorthand of SHORTHANDS) {
    if (shorthand.key in settings) command.addOption(new Option(shorthand.flags, shorthand.description));
  }
  return command;
}

/** `--version` / `-V`: prints the package's version and exits, before any setting is read. */
export function addVersionFlag(command: Command): Command {
  return command.version(packageVersion(), '-V, --version', 'print the felix-ts version');
}

/** A short spelling of a setting's flag, for what operators type most. */
interface Shorthand {
  /** Commander's spelling; its property (pretty, writeCert) is `property`. */
  readonly flags: string;
  readonly property: string;
  /** The setting it sets. */
  readonly key: string;
  /** The value a flag without an argument stands for. */
  readonly value?: string;
  readonly description: string;
}

const SHORTHANDS: readonly Shorthand[] = [
  {
    flags: '--pretty',
    property: 'pretty',
    key: 'logPretty',
    value: '1',
    description: 'human-readable log lines even when stdout is not a terminal (same as --log-pretty 1)',
  },
  {
    flags: '--write-cert <file>',
    property: 'writeCert',
    key: 'tlsWriteCert',
    description:
      "write the certificate the broker serves (PEM) to <file> once it listens, for remote clients' " +
      'FELIX_TLS_CA (same as --tls-write-cert)',
  },
];

/** Turns parsed flags (command.opts()) into loader options whose errors name the flags. */
export function loadOptionsFromFlags<S extends SettingsSchema, X extends SectionsSchema>(
  flags: Readonly<Record<string, unknown>>,
  settings: S,
): LoadOptions<S, X> {
  const { profile, config } = flags as { profile?: string; config?: string };
  const overrides: Record<string, unknown> = Object.fromEntries(
    Object.keys(settings).map((key) => [key, flags[key]]),
  );
  // --profile and --config are not settings, and --config is not named after its key.
  const labels = new Map<string, string>([
    ['profile', 'flag --profile'],
    ['configPath', 'flag --config'],
  ]);
  for (const shorthand of SHORTHANDS) {
    const given = flags[shorthand.property];
    if (!(shorthand.key in settings) || given === undefined) continue;
    const short = shorthand.flags.split(' ')[0]!;
    if (overrides[shorthand.key] !== undefined) {
      throw new ConfigError(
        `${short} and ${flagNameOf(shorthand.key)} set the same setting (${settings[shorthand.key]!.env}): give one of them.`,
        { setting: settings[shorthand.key]!.env },
      );
    }
    overrides[shorthand.key] = shorthand.value ?? given;
    labels.set(shorthand.key, `flag ${short}`);
  }
  return {
    profile,
    configPath: config,
    overrides: overrides as LoadOptions<S, X>['overrides'],
    overrideLabel: (key) => labels.get(key) ?? `flag ${flagNameOf(key)}`,
  };
}
