/**
 * The connection flags `felix-ts pub|sub|cache` share, named like the SDK's connect options and merged the
 * same way: a flag is an explicit connect option, so it wins over the environment (FELIX_AUTH_TOKEN,
 * FELIX_TLS_CA, …), which wins over the YAML file (FELIX_CLIENT_CONFIG or --config) and the profile.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { connectLabelled } from '../client/client.js';
import { ConfigError, isFelixError, type ConnectOptions, type FelixClient } from '../client/index.js';
import { BROKER_ADDRESS_RULE, brokerAddressOf, DEFAULT_BROKER } from '../client/options.js';
import { isValidName, NAME_RULE } from '../config/tenants.js';
import { CliUsageError } from './exit-codes.js';
import { felixFailure } from './felix-failure.js';

export interface ConnectionFlags {
  broker?: string;
  tenant?: string;
  namespace?: string;
  token?: string;
  ca?: string;
  config?: string;
  profile?: string;
}

export const DEFAULT_TENANT = 't1';
export const DEFAULT_NAMESPACE = 'default';

/**
 * --broker's parser: the address the SDK would take, or a usage error that commander prefixes with the flag
 * (not the SDK's "connect option broker"). The demos' --broker uses it too.
 */
export function brokerArgument(text: string): string {
  if (brokerAddressOf(text) === undefined) throw new InvalidArgumentError(`expected ${BROKER_ADDRESS_RULE}`);
  return text;
}

export function nameArgument(what: string): (text: string) => string {
  return (text) => {
    if (!isValidName(text)) {
      throw new InvalidArgumentError(`expected a ${what} name (${NAME_RULE}); got ${JSON.stringify(text)}`);
    }
    return text;
  };
}

export function addConnectionFlags(command: Command): Command {
  return command
    .option('--broker <host:port>', `QUIC address of the broker (default ${DEFAULT_BROKER})`, brokerArgument)
    .option(
      '--tenant <tenant>',
      `tenant to act as; a token's tid must name it (default ${DEFAULT_TENANT})`,
      nameArgument('tenant'),
    )
    .option(
      '--namespace <namespace>',
      `namespace of names that do not give one (default ${DEFAULT_NAMESPACE})`,
      nameArgument('namespace'),
    )
    .option('--token <jwt>', 'auth token (default FELIX_AUTH_TOKEN; prefer the variable: flags show in ps)')
    .option(
      '--ca <pem-file>',
      "certificate(s) to verify the broker's certificate with (default FELIX_TLS_CA)",
    )
    .option('--config <yaml-file>', 'client settings file (default FELIX_CLIENT_CONFIG)')
    .option('--profile <name>', 'settings profile: balanced or high-memory (default FELIX_PROFILE)');
}

/** Help text naming the environment the flags fall back to, for the commands that connect. */
export const CONNECTION_HELP = `
Connection: flags win over the environment, as the SDK's connect options do: FELIX_AUTH_TOKEN,
FELIX_TLS_CA, FELIX_TLS_INSECURE, FELIX_TLS_SERVER_NAME, FELIX_CLIENT_CONFIG, FELIX_PROFILE and every
other client FELIX_* setting (docs/configuration.md) apply unless a flag says otherwise.`;

/** The connect option each flag sets (flags by commander's property name). */
const OPTION_OF_FLAG = {
  broker: 'broker',
  tenant: 'tenant',
  namespace: 'namespace',
  token: 'token',
  ca: 'tlsCa',
  config: 'configPath',
  profile: 'profile',
} as const satisfies Record<keyof ConnectionFlags, keyof ConnectOptions>;

/** The connect options the flags ask for; unset flags stay unset so the environment and YAML apply. */
export function connectOptionsFrom(flags: ConnectionFlags, tenant: string | undefined): ConnectOptions {
  const given: ConnectionFlags = { ...flags, tenant: tenant ?? flags.tenant };
  const options: Record<string, string> = {};
  for (const [flag, option] of Object.entries(OPTION_OF_FLAG)) {
    const value = given[flag as keyof ConnectionFlags];
    // Unset flags stay absent, so the environment and the YAML file apply to them.
    if (value !== undefined) options[option] = value;
  }
  return options;
}

/**
 * Names a connect option in a configuration error as the flag that set it (`flag --ca`): the user typed
 * the flag, and `tlsCa` is nowhere on the command line.
 */
function flagLabel(option: string): string {
  const flag = Object.entries(OPTION_OF_FLAG).find(([, set]) => set === option)?.[0];
  return flag === undefined ? `option ${option}` : `flag --${flag}`;
}

/**
 * connect() with the flags' options. A bad setting (from a flag, the environment or the YAML file) is a
 * usage error, as it is for the broker; a broker that cannot be reached or refuses us is a failure.
 */
export async function connectWithFlags(options: ConnectOptions): Promise<FelixClient> {
  const warned = new Set<string>();
  try {
    return await connectLabelled(
      {
        ...options,
        onWarning: (message) => {
          if (warned.has(message)) return;
          warned.add(message);
          process.stderr.write(`felix-ts: warning: ${message}\n`);
        },
      },
      flagLabel,
    );
  } catch (error) {
    if (error instanceof ConfigError) throw new CliUsageError(error.message);
    if (isFelixError(error)) throw felixFailure('', error);
    throw error;
  }
}
