/**
 * `felix-ts broker` and `felix-ts bench …` run the package's other programs (broker/main.ts,
 * latencydemo/main.ts, cachedemo/main.ts) in this process, with the rest of the command line as theirs:
 * every flag, its help, its signal handling and exit statuses are the program's own, so nothing is
 * declared twice and `felix-ts broker` can never drift from `felix-broker` / `npm start`.
 */
import type { Command } from 'commander';
import { packageVersion } from './version.js';

export interface EntryProgram {
  /** The program's file, as process.argv[1] names it when it runs by itself. */
  readonly scriptPath: string;
  /** Imports the program's module, which parses process.argv and runs. */
  readonly load: () => Promise<unknown>;
}

/** Marks commands whose flags belong to another program (version and help are theirs, or answered here). */
export const PASS_THROUGH = Symbol('felix-ts pass-through command');

export function addEntryProgramCommand(
  parent: Command,
  name: string,
  description: string,
  program: EntryProgram,
): Command {
  const command = parent
    .command(name)
    .description(description)
    // --help, -h and everything else belong to the program.
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .passThroughOptions()
    .argument('[flags...]', `the flags of ${name} (felix-ts ${fullName(parent, name)} --help lists them)`)
    .action(async (flags: string[]) => {
      if (flags.includes('--version') || flags.includes('-V')) {
        process.stdout.write(`${packageVersion()}\n`);
        return;
      }
      process.argv = [process.argv[0], program.scriptPath, ...flags];
      await program.load();
    });
  (command as unknown as Record<symbol, boolean>)[PASS_THROUGH] = true;
  return command;
}

function fullName(parent: Command, name: string): string {
  const names = [name];
  for (let command: Command | null = parent; command?.parent; command = command.parent) {
    names.unshift(command.name());
  }
  return names.join(' ');
}

export function isPassThrough(command: Command): boolean {
  return (command as unknown as Record<symbol, boolean | undefined>)[PASS_THROUGH] === true;
}
