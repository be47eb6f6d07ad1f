/**
 * The `felix-ts` command line: one program, a module per command group in cli/commands/ (only `auth` so
 * far; broker, pub, sub, cache, status and bench will join it the same way).
 */
import { Command, CommanderError } from 'commander';
import { registerAuthCommands } from './commands/auth/index.js';
import { CliFailure, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './exit-codes.js';
import { packageVersion } from './version.js';

export function buildProgram(): Command {
  const program = new Command('felix-ts')
    .description('felix-ts: pub/sub broker and cache over QUIC — command line tools')
    .version(packageVersion(), '-V, --version', 'print the felix-ts version')
    // Set before the subcommands are added, so they inherit both.
    .exitOverride()
    .showHelpAfterError('(add --help for usage)');
  registerAuthCommands(program);
  return program;
}

/** Runs the command line (without node and script) and returns the exit status. Prints its own errors. */
export async function runCli(args: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync([...args], { from: 'user' });
    return EXIT_OK;
  } catch (error) {
    // Commander has printed its message (or the help, or the version) already.
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    if (error instanceof CliFailure) {
      process.stderr.write(`felix-ts: ${error.message}\n`);
      return EXIT_FAILURE;
    }
    throw error;
  }
}
