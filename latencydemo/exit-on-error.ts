/**
 * How latencydemo and slowdemo end on an error: a bad setting found only once used (a client setting, or a
 * broker setting their broker refused with its own exit status 2) is one line and exit 2, as a bad flag is;
 * a failure whose message says it all is that message, exit 1; anything else its stack, exit 1.
 */
import { brokerSettingRefusal } from '../broker/spawn.js';
import { ConfigError } from '../client/index.js';

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

export function exitOnError(program: string, error: unknown, explained: (error: unknown) => boolean): never {
  const badSetting = error instanceof ConfigError ? error.message : brokerSettingRefusal(error);
  if (badSetting !== undefined) {
    process.stderr.write(`${program}: ${badSetting}\n`);
    process.exit(EXIT_USAGE);
  }
  const text =
    error instanceof Error
      ? explained(error)
        ? error.message
        : (error.stack ?? error.message)
      : String(error);
  process.stderr.write(`${program}: ${text}\n`);
  process.exit(EXIT_FAILURE);
}
