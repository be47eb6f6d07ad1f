/** `felix-ts cache get|put|del <cache> <key>`: the broker's key-value cache, as redis-cli GET/SET/DEL. */
import { type Command } from 'commander';
import type { FelixClient } from '../../client/index.js';
import { isFelixError } from '../../client/index.js';
import {
  addConnectionFlags,
  connectOptionsFrom,
  connectWithFlags,
  CONNECTION_HELP,
  type ConnectionFlags,
} from '../connection-flags.js';
import { durationMs } from '../durations.js';
import { CliFailure, CliUsageError } from '../exit-codes.js';
import { stdinBytes, valueOrStdin } from '../input-lines.js';
import { namespaceFor, parseResourceAddress, tenantFor } from '../resource-address.js';
import { felixFailure } from '../felix-failure.js';
import { terminalView } from './cache-output.js';
import { quotedName, shownPath } from '../../config/shown-name.js';

const MAX_TTL_MS = 3_650 * 86_400_000;

const CACHE_HELP = `
Cache: <cache>, <namespace>/<cache> or <tenant>/<namespace>/<cache>; what it leaves out comes from
--namespace and --tenant. Keys are text (UTF-8), values any bytes; the broker limits their sizes
(FELIX_CACHE_MAX_KEY_BYTES, FELIX_CACHE_MAX_VALUE_BYTES).
${CONNECTION_HELP}

Examples:
  felix-ts cache put sessions user-42 '{"cart":3}' --ttl 15m
  felix-ts cache get sessions user-42
  felix-ts cache put images logo - < logo.png && felix-ts cache get images logo --raw > copy.png
  felix-ts cache del sessions user-42`;

interface Target {
  readonly client: FelixClient;
  readonly namespace: string;
  readonly cache: string;
  readonly description: string;
}

/** Connects as the cache argument and flags say, runs `use`, and closes the client whatever happens. */
async function withCache(
  cacheArg: string,
  key: string,
  flags: ConnectionFlags,
  operation: string,
  use: (target: Target) => Promise<void>,
): Promise<void> {
  const address = parseResourceAddress('cache', cacheArg);
  if (key === '') throw new CliUsageError('a cache key must not be empty');
  const tenant = tenantFor(address, flags.tenant);
  const namespace = namespaceFor(address, flags.namespace);
  const client = await connectWithFlags(connectOptionsFrom({ ...flags, namespace }, tenant));
  const description = `${shownPath(client.tenant, client.namespace, address.name)} key ${quotedName(key)}`;
  try {
    await use({ client, namespace: client.namespace, cache: address.name, description });
  } catch (error) {
    // An argument the SDK refuses before sending anything is a usage error (exit 2), like a bad name.
    if (isFelixError(error) && error.code === 'invalid_argument') throw new CliUsageError(error.message);
    if (isFelixError(error)) throw felixFailure(`cache ${operation} of ${description}`, error);
    throw error;
  } finally {
    await client.close();
  }
}

function cacheCommand(parent: Command, name: string, description: string): Command {
  const command = parent
    .command(name)
    .description(description)
    .argument('<cache>', 'cache name')
    .argument('<key>', 'key');
  return addConnectionFlags(command);
}

export function registerCacheCommands(program: Command): void {
  const cache = program
    .command('cache')
    .description("the broker's key-value cache: get, put, del")
    .addHelpText('after', CACHE_HELP);

  cacheCommand(cache, 'get', 'print the value stored under a key (exit status 1 when there is none)')
    .option(
      '--raw',
      "write the value's bytes exactly, without the line ending added otherwise (on a terminal, a value " +
        'that is not text is otherwise shown quoted with escapes, as redis-cli does)',
    )
    .addHelpText('after', CONNECTION_HELP)
    .action(async (cacheArg: string, key: string, flags: ConnectionFlags & { raw?: boolean }) => {
      await withCache(
        cacheArg,
        key,
        flags,
        'get',
        async ({ client, namespace, cache: name, description }) => {
          const value = await client.cache.get(namespace, name, key);
          if (value === undefined) throw new CliFailure(`no value under ${description}`);
          const shown = flags.raw !== true && process.stdout.isTTY ? terminalView(value) : undefined;
          process.stdout.write(shown ?? value);
          if (flags.raw !== true) process.stdout.write('\n');
        },
      );
    });

  cacheCommand(cache, 'put', 'store a value under a key, replacing what was there')
    .argument(
      '[value]',
      'the value (UTF-8), or - to store all of standard input (left out: standard input, unless it is a terminal)',
    )
    .option(
      '--ttl <duration>',
      'expire the entry after this long, e.g. 500ms, 30s, 15m, 1h (default: never)',
      durationMs(1, MAX_TTL_MS),
    )
    .addHelpText('after', CONNECTION_HELP)
    .action(
      async (
        cacheArg: string,
        key: string,
        valueArg: string | undefined,
        flags: ConnectionFlags & { ttl?: number },
      ) => {
        const source = valueOrStdin(valueArg, 'value');
        const value = source === '-' ? await stdinBytes() : Buffer.from(source, 'utf8');
        await withCache(cacheArg, key, flags, 'put', async ({ client, namespace, cache: name }) => {
          await client.cache.put(namespace, name, key, value, { ttlMs: flags.ttl ?? null });
          process.stdout.write('OK\n');
        });
      },
    );

  cacheCommand(cache, 'del', 'remove a key; prints deleted, or absent when it held nothing')
    .alias('delete')
    .addHelpText('after', CONNECTION_HELP)
    .action(async (cacheArg: string, key: string, flags: ConnectionFlags) => {
      await withCache(cacheArg, key, flags, 'del', async ({ client, namespace, cache: name }) => {
        const removed = await client.cache.delete(namespace, name, key);
        process.stdout.write(removed ? 'deleted\n' : 'absent\n');
      });
    });
}
