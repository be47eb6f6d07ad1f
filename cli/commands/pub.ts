/**
 * `felix-ts pub <stream> [message|-]`: publishes one message (or --count of them, or a message per line of
 * standard input), paced by --rate, acknowledged as --ack says, as `nats pub` does.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Option, type Command } from 'commander';
import type { AckMode, FelixClient } from '../../client/index.js';
import {
  addConnectionFlags,
  connectOptionsFrom,
  connectWithFlags,
  CONNECTION_HELP,
  type ConnectionFlags,
} from '../connection-flags.js';
import { integerArgument } from '../durations.js';
import { stdinLines, valueOrStdin } from '../input-lines.js';
import { namespaceFor, parseResourceAddress, tenantFor } from '../resource-address.js';
import { isFelixError } from '../../client/index.js';
import { felixFailure } from '../felix-failure.js';
import { shownPath } from '../../config/shown-name.js';

const ACK_MODES: readonly AckMode[] = ['none', 'per_message', 'per_batch'];
/** Acked publishes in flight at once: enough to pipeline, bounded so memory is too. */
const MAX_IN_FLIGHT = 1024;
const SEQUENCE_PLACEHOLDER = '{{seq}}';

interface PubFlags extends ConnectionFlags {
  count?: number;
  rate?: number;
  ack: AckMode;
  batch: number;
}

const PUB_HELP = `
Stream: <stream>, <namespace>/<stream> or <tenant>/<namespace>/<stream>; what it leaves out comes from
--namespace and --tenant.

Message: the argument (UTF-8; ${SEQUENCE_PLACEHOLDER} becomes 1, 2, 3, … with --count), or - to publish each
line of standard input as one message (without its line ending). Left out, standard input is read
unless it is a terminal.

Ack:
  per_message  each message is confirmed by the broker (default)
  per_batch    messages go in batches of --batch, one confirmation per batch
  none         fire and forget (the broker's refusals are printed as warnings)

Prints a summary on stderr. Exit status: 0 all published, 1 the broker refused or could not be reached,
2 bad arguments.
${CONNECTION_HELP}

Examples:
  felix-ts pub orders 'hello'
  felix-ts pub orders 'order {{seq}}' --count 1000 --rate 200
  tail -f app.log | felix-ts pub logs - --ack none
  felix-ts pub acme/billing/invoices '{"id":1}' --tenant acme --token "$TOKEN"`;

export function registerPubCommand(program: Command): void {
  const command = program
    .command('pub')
    .description('publish messages to a stream')
    .argument('<stream>', 'stream to publish to')
    .argument('[message]', 'the message, or - to publish each line of standard input');
  addConnectionFlags(command)
    .option(
      '--count <n>',
      'with a message: publish it n times (default 1); with -: stop after n lines',
      integerArgument(1, Number.MAX_SAFE_INTEGER),
    )
    .option(
      '--rate <per-second>',
      'publish at most this many messages per second',
      integerArgument(1, 10_000_000),
    )
    .addOption(
      new Option('--ack <mode>', 'when a publish counts as done').choices(ACK_MODES).default('per_message'),
    )
    .option('--batch <n>', 'messages per batch with --ack per_batch', integerArgument(1, 65_536), 64)
    .addHelpText('after', PUB_HELP)
    .action(async (streamArg: string, messageArg: string | undefined, flags: PubFlags) => {
      const address = parseResourceAddress('stream', streamArg);
      const tenant = tenantFor(address, flags.tenant);
      const namespace = namespaceFor(address, flags.namespace);
      const message = valueOrStdin(messageArg, 'message');
      const messages = message === '-' ? linesOfStdin(flags.count) : repeated(message, flags.count ?? 1);
      const client = await connectWithFlags(connectOptionsFrom({ ...flags, namespace }, tenant));
      const target = shownPath(client.tenant, client.namespace, address.name);
      let published = { messages: 0, bytes: 0 };
      try {
        published = await publishAll(client, address.name, messages, flags);
      } catch (error) {
        if (isFelixError(error)) throw felixFailure(`publish to ${target}`, error);
        throw error;
      } finally {
        await client.close();
      }
      process.stderr.write(
        `published ${published.messages} message${published.messages === 1 ? '' : 's'} ` +
          `(${published.bytes} bytes) to ${target}, ack ${flags.ack}\n`,
      );
    });
}

async function* repeated(message: string, count: number): AsyncIterable<string> {
  for (let sequence = 1; sequence <= count; sequence++) {
    yield message.replaceAll(SEQUENCE_PLACEHOLDER, String(sequence));
  }
}

async function* linesOfStdin(limit: number | undefined): AsyncIterable<string> {
  let taken = 0;
  for await (const line of stdinLines()) {
    if (limit !== undefined && taken >= limit) return;
    taken++;
    yield line;
  }
}

/** Holds the i-th message back until i / rate seconds after the first (no pacing without a rate). */
class Pacer {
  private readonly start = performance.now();
  private sent = 0;
  constructor(private readonly perSecond: number | undefined) {}

  /** Resolves when the next message may go; `beforeWait` runs first when it has to wait. */
  async next(beforeWait: () => Promise<void>): Promise<void> {
    const due = this.perSecond === undefined ? 0 : this.start + (this.sent * 1000) / this.perSecond;
    this.sent++;
    const wait = due - performance.now();
    if (wait > 0) {
      await beforeWait();
      await sleep(wait);
    }
  }
}

async function publishAll(
  client: FelixClient,
  stream: string,
  messages: AsyncIterable<string>,
  flags: PubFlags,
): Promise<{ messages: number; bytes: number }> {
  const pacer = new Pacer(flags.rate);
  const inFlight: Promise<void>[] = [];
  let batch: string[] = [];
  let count = 0;
  let bytes = 0;
  const sendBatch = async (): Promise<void> => {
    if (batch.length === 0) return;
    const payloads = batch;
    batch = [];
    await client.publishBatch(stream, payloads, { ack: 'per_batch' });
  };
  for await (const message of messages) {
    await pacer.next(sendBatch);
    count++;
    bytes += Buffer.byteLength(message);
    if (flags.ack === 'per_batch') {
      batch.push(message);
      if (batch.length >= flags.batch) await sendBatch();
      continue;
    }
    const publish = client.publish(stream, message, { ack: flags.ack });
    // Awaited below, in order; until then a refusal must not count as an unhandled rejection.
    publish.catch(() => undefined);
    inFlight.push(publish);
    // Waiting for the oldest keeps order of failure reports and bounds what is outstanding.
    if (inFlight.length >= MAX_IN_FLIGHT) await inFlight.shift();
  }
  await sendBatch();
  await Promise.all(inFlight);
  await client.flush();
  return { messages: count, bytes };
}
