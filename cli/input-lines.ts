/** What `pub -` and `cache put … -` read: standard input, as lines or as all its bytes. */
import { createInterface } from 'node:readline';
import { CliUsageError } from './exit-codes.js';

/** The lines of standard input, without their line endings (\n or \r\n), as they arrive. */
export function stdinLines(): AsyncIterable<string> {
  return createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY, terminal: false });
}

/** Everything on standard input, as bytes (until it ends). */
export async function stdinBytes(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * A [value|-] argument: the value, or '-' for standard input. Left out, standard input is read when it is
 * not a terminal (a pipe or a file); on a terminal that would only wait, so it is a usage error instead.
 */
export function valueOrStdin(value: string | undefined, what: string): string {
  if (value !== undefined) return value;
  if (process.stdin.isTTY === true) {
    throw new CliUsageError(`missing ${what}: give it as an argument, or - to read standard input`);
  }
  return '-';
}
