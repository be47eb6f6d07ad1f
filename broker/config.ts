import { brokerSide, type BrokerConfig } from '../config/broker-settings.js';
import { catalogue } from '../config/catalogue.js';
import { addSettingFlags, addVersionFlag, loadOptionsFromFlags } from '../config/cli-flags.js';
import { loadSide, type LoadedConfig, type LoadOptions } from '../config/load.js';
import type { Command } from 'commander';

export type { BrokerConfig } from '../config/broker-settings.js';
export type { TenantDeclaration, NamespaceDeclaration } from '../config/tenants.js';
export type { BindAddress } from '../config/kinds.js';
export type { Provenance, ReportLine, Source } from '../config/load.js';
export { ConfigError } from '../config/errors.js';

export type BrokerLoadOptions = LoadOptions<typeof brokerSide.settings, typeof brokerSide.sections>;
export type LoadedBrokerConfig = LoadedConfig<BrokerConfig>;

/**
 * The broker's settings: defaults < FELIX_PROFILE < FELIX_BROKER_CONFIG (YAML) < environment < CLI
 * flags. Throws ConfigError on any bad value; `warnings` lists unknown FELIX_* variables to log.
 */
export function loadBrokerConfig(options: BrokerLoadOptions = {}): LoadedBrokerConfig {
  return loadSide(brokerSide, catalogue, options);
}

/**
 * Adds --version, --profile, --config, a flag per broker setting (--quic-bind, --sub-queue-policy, …) and
 * the shorthands --pretty and --write-cert.
 */
export function addBrokerFlags(command: Command): Command {
  return addSettingFlags(addVersionFlag(command), brokerSide.settings);
}

/** Loads the configuration with the flags parsed by a command prepared with addBrokerFlags. */
export function loadBrokerConfigFromFlags(
  flags: Readonly<Record<string, unknown>>,
  env?: BrokerLoadOptions['env'],
): LoadedBrokerConfig {
  return loadBrokerConfig({ ...loadOptionsFromFlags(flags, brokerSide.settings), env });
}
