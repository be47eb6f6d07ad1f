/**
 * `felix-ts sub <stream>`: prints the stream's events as they arrive, one line each with its offset, and
 * a `#` line wherever events were missed, until --count events or Ctrl-C. Events are taken in the SDK's
 * callback mode (no local queue that could drop them): a slow terminal slows the subscription, and what
 * the broker then drops for it shows as a gap.
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { FelixClient, StartPosition, Subscription } from '../../client/index.js';
import { isFelixError } from '../../client/index.js';
import {
  addConnectionFlags,
  connectOptionsFrom,
  connectWithFlags,
  CONNECTION_HELP,
  type ConnectionFlags,
} from '../connection-flags.js';
import { integerArgument } from '../durations.js';
import { CliFailure } from '../exit-codes.js';
import { namespaceFor, parseResourceAddress, tenantFor } from '../resource-address.js';
import { formatEvent } from './sub-output.js';
import { felixFailure } from '../felix-failure.js';
import { shownPath } from '../../config/shown-name.js';

interface SubFlags extends ConnectionFlags {
  from: StartPosition;
  count?: number;
}

function startArgument(text: string): StartPosition {
  if (text === 'earliest' || text === 'latest') return text;
  if (/^\d{1,16}$/.test(text) && Number.isSafeInteger(Number(text))) return { offset: Number(text) };
  throw new InvalidArgumentError(
    `expected earliest, latest or an offset (a whole number); got ${JSON.stringify(text)}`,
  );
}

function describeStart(start: StartPosition): string {
  return typeof start === 'string' ? start : `offset ${start.offset}`;
}

const SUB_HELP = `
Stream: <stream>, <namespace>/<stream> or <tenant>/<namespace>/<stream>; what it leaves out comes from
--namespace and --tenant.

Output (stdout), one line per event:
  <offset><TAB><payload>      the payload as text, or base64:<…> when it is not one line of UTF-8
                              text (invalid UTF-8, line breaks, control characters besides tab)
  # gap: 3 events missed (offsets 17-19)
                              printed before the event that follows events this subscriber did not get
                              (the broker's queue policy dropped them, or retention did before a resume)
stderr says when the subscription is in place and why it ended.

--from: latest (default) only events published from now on; earliest the oldest the broker still has
(FELIX_STREAM_REPLAY_CAPACITY in memory, more for durable streams); N from offset N.

Exit status: 0 after --count events or Ctrl-C, 1 the subscription failed or ended, 2 bad arguments.
${CONNECTION_HELP}

Examples:
  felix-ts sub orders
  felix-ts sub orders --from earliest --count 10
  felix-ts sub acme/billing/invoices --from 1200 --tenant acme --token "$TOKEN"`;

/** How long `sub` lets the client close after SIGINT/SIGTERM before the process exits anyway. */
const SIGNAL_CLOSE_MS = 500;

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

export function registerSubCommand(program: Command): void {
  const command = program
    .command('sub')
    .description("print a stream's events with their offsets")
    .argument('<stream>', 'stream to subscribe to');
  addConnectionFlags(command)
    .option('--from <position>', 'earliest, latest or an offset', startArgument, 'latest')
    .option('--count <n>', 'exit after n events', integerArgument(1, Number.MAX_SAFE_INTEGER))
    .addHelpText('after', SUB_HELP)
    .action(async (streamArg: string, flags: SubFlags) => {
      const address = parseResourceAddress('stream', streamArg);
      const tenant = tenantFor(address, flags.tenant);
      const namespace = namespaceFor(address, flags.namespace);
      const client = await connectWithFlags(connectOptionsFrom({ ...flags, namespace }, tenant));
      const target = shownPath(client.tenant, client.namespace, address.name);
      let signalled = false;
      try {
        signalled = await printEvents(client, address.name, target, flags);
      } finally {
        // Stopped by a signal: the user wants out, and a subscriber has nothing to flush. Closing waits for
        // the broker to end each subscription (up to closeTimeoutMs), and the connections keep the process
        // alive until then: after the broker died, a Ctrl-C took ~11 s. So: a bounded close, then exit once
        // what was printed has reached stdout.
        if (signalled) {
          await Promise.race([client.close(), delay(SIGNAL_CLOSE_MS)]);
          process.stdout.write('', () => process.exit(process.exitCode ?? 0));
        } else await client.close();
      }
    });
}

async function printEvents(
  client: FelixClient,
  stream: string,
  target: string,
  flags: SubFlags,
): Promise<boolean> {
  let printed = 0;
  let stop!: (reason: string) => void;
  const stopped = new Promise<string>((resolve) => (stop = resolve));
  let subscription: Subscription;
  try {
    subscription = await client.subscribe(stream, {
      start: flags.from,
      onEvent: (event) => {
        if (flags.count !== undefined && printed >= flags.count) return;
        process.stdout.write(formatEvent(event));
        if (++printed === flags.count) stop(`${printed} events`);
      },
    });
  } catch (error) {
    if (!isFelixError(error)) throw error;
    const hint = error.available === undefined ? '' : ` (the broker can start at offset ${error.available})`;
    throw felixFailure(`subscribe to ${target}`, error, hint);
  }
  process.stderr.write(`subscribed to ${target} from ${describeStart(flags.from)}\n`);
  const onSignal = (signal: string): void => stop(signal);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const ended = subscription.closed.then((error) => ({ error }));
    const outcome = await Promise.race([stopped.then((reason) => ({ reason })), ended]);
    if ('error' in outcome) {
      const why = outcome.error === undefined ? 'ended' : `${outcome.error.code}: ${outcome.error.message}`;
      throw new CliFailure(`the subscription to ${target} ended after ${printed} events: ${why}`);
    }
    // Stopped by a signal: the client's (bounded) close ends the subscription.
    if (outcome.reason === 'SIGINT' || outcome.reason === 'SIGTERM') return true;
    await subscription.unsubscribe();
    return false;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
