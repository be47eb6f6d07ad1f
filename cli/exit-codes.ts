/** Exit statuses of `felix-ts`, the usual Unix meanings. */
export const EXIT_OK = 0;
/** The command was well-formed but failed: a file exists, a key cannot be read, … (the message says which). */
export const EXIT_FAILURE = 1;
/** Bad arguments: unknown command or option, missing or malformed value. Usage is printed. */
export const EXIT_USAGE = 2;

/** A failure the message fully explains; printed without a stack trace, exit status EXIT_FAILURE. */
export class CliFailure extends Error {
  override readonly name = 'CliFailure';
}

/** Arguments that parsed but do not fit together, found by a command itself; exit status EXIT_USAGE. */
export class CliUsageError extends Error {
  override readonly name = 'CliUsageError';
}
