import { Option, type Command } from 'commander';
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
  return command;
}

/** Turns parsed flags (command.opts()) into loader options whose errors name the flags. */
export function loadOptionsFromFlags<S extends SettingsSchema, X extends SectionsSchema>(
  flags: Readonly<Record<string, unknown>>,
  settings: S,
): LoadOptions<S, X> {
  const { profile, config } = flags as { profile?: string; config?: string };
  const overrides = Object.fromEntries(Object.keys(settings).map((key) => [key, flags[key]]));
  return {
    profile,
    configPath: config,
    overrides: overrides as LoadOptions<S, X>['overrides'],
    overrideLabel: (key) => `flag ${flagNameOf(key)}`,
  };
}
