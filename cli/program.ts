/**
 * The `felix-ts` command line: one program, a module per command group in cli/commands/. `broker` and
 * `bench` run the package's other programs with their own flags (see entry-program.ts); the rest are
 * commander commands.
 */
import { Command, CommanderError } from 'commander';
import { registerAuthCommands } from './commands/auth/index.js';
import { registerBenchCommands } from './commands/bench.js';
import { registerBrokerCommand } from './commands/broker.js';
import { registerCacheCommands } from './commands/cache.js';
import { registerPubCommand } from './commands/pub.js';
import { registerStatusCommand } from './commands/status/index.js';
import { registerSubCommand } from './commands/sub.js';
import { isPassThrough } from './entry-program.js';
import { CliFailure, CliUsageError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './exit-codes.js';
import { packageVersion } from './version.js';

const ROOT_HELP = `
Start here:
  felix-ts broker                               a broker on 0.0.0.0:5000 (QUIC), metrics on 127.0.0.1:8080
  felix-ts sub orders                           print events of stream "orders" as they arrive
  felix-ts pub orders 'hello'                   publish one
  felix-ts cache put web greeting hi --ttl 1m   store a value; cache get / cache del
  felix-ts status                               the broker's numbers on one screen
  felix-ts bench latency                        measure (starts its own broker)

Every command has --help. pub, sub and cache connect like the SDK: --broker (default 127.0.0.1:5000),
--tenant, --namespace, --token (FELIX_AUTH_TOKEN), --ca (FELIX_TLS_CA), and every client FELIX_* setting.

Exit status: 0 success, 1 the command failed (the message says why), 2 bad arguments.`;

export function buildProgram(): Command {
  const program = new Command('felix-ts')
    .description('felix-ts: pub/sub broker and cache over QUIC — command line tools')
    // Set before the subcommands are added, so they inherit them. Positional options: a subcommand's
    // flags are its own (needed by broker and bench, whose flags belong to the programs they run).
    .exitOverride()
    .enablePositionalOptions()
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', ROOT_HELP);
  registerBrokerCommand(program);
  registerPubCommand(program);
  registerSubCommand(program);
  registerCacheCommands(program);
  registerStatusCommand(program);
  registerBenchCommands(program);
  registerAuthCommands(program);
  addVersionEverywhere(program, packageVersion());
  return program;
}

/** --version / -V on the program and on every command (pass-through commands answer it themselves). */
function addVersionEverywhere(command: Command, version: string): void {
  if (isPassThrough(command)) return;
  command.version(version, '-V, --version', 'print the felix-ts version');
  for (const sub of command.commands) addVersionEverywhere(sub, version);
}

/** Runs the command line (without node and script) and returns the exit status. Prints its own errors. */
export async function runCli(args: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync([...args], { from: 'user' });
    return EXIT_OK;
  } catch (error) {
    // Commander has printed its message (or the help, or the version) already.
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    if (error instanceof CliUsageError) {
      process.stderr.write(`felix-ts: ${error.message}\n(add --help for usage)\n`);
      return EXIT_USAGE;
    }
    if (error instanceof CliFailure) {
      process.stderr.write(`felix-ts: ${error.message}\n`);
      return EXIT_FAILURE;
    }
    throw error;
  }
}
