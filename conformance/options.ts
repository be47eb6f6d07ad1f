import { Command, InvalidArgumentError } from 'commander';
import {
  TlsPolicyError,
  readPemFile,
  resolveClientTlsPolicy,
  type ClientTlsOptions,
} from '../transport/index.js';
import type { KitSettings } from './context.js';

export interface KitOptions {
  readonly settings: KitSettings;
  readonly json: boolean;
  readonly only: string[];
  readonly list: boolean;
}

/** The command line, parsed and checked; throws (with a message for the user) when it is unusable. */
export function parseArguments(argv: readonly string[]): KitOptions {
  const program = new Command('felix-conformance')
    .description(
      'Checks a felix broker against every promise of docs/protocol.md, over QUIC, without the SDK.\n' +
        'Needs a broker that auto-creates streams and caches (FELIX_AUTO_CREATE_STREAMS=1, the default).',
    )
    .requiredOption('--broker <host:port>', 'the broker to check', parseHostPort)
    .option('--ca <file.pem>', "the broker's CA or self-signed certificate (PEM) to verify it against")
    .option('--server-name <name>', 'name the certificate must carry (default: the host)')
    .option('--insecure', 'accept any certificate from a non-loopback broker', false)
    .option('--tenant <id>', 'tenant the checks authenticate as', 't1')
    .option('--token <token>', 'token sent in auth', 'conformance')
    .option('--json', 'one JSON object per check, then {"passed":N,"failed":N}', false)
    .option(
      '--only <glob>',
      'run only checks whose name matches (repeatable, or comma-separated)',
      collect,
      [],
    )
    .option('--list', 'print the check names and exit', false)
    .option('--timeout-ms <ms>', 'bound on each single expectation', positiveInteger, 3000)
    .option(
      '--max-frame-bytes <n>',
      "the broker's FELIX_MAX_FRAME_BYTES (the oversized-frame check sends one byte more)",
      positiveInteger,
      16 * 1024 * 1024,
    )
    .option(
      '--replay-capacity <n>',
      "the broker's FELIX_STREAM_REPLAY_CAPACITY, at least 16 (the too_old check publishes past it)",
      replayCapacity,
      1024,
    )
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  program.parse([...argv], { from: 'user' });
  const o = program.opts<{
    broker: { host: string; port: number };
    ca?: string;
    serverName?: string;
    insecure: boolean;
    tenant: string;
    token: string;
    json: boolean;
    only: string[];
    list: boolean;
    timeoutMs: number;
    maxFrameBytes: number;
    replayCapacity: number;
  }>();
  const tls: ClientTlsOptions = {
    ...(o.ca !== undefined ? { caPem: readPemFile(o.ca, '--ca') } : {}),
    ...(o.serverName !== undefined ? { serverName: o.serverName } : {}),
    insecure: o.insecure,
  };
  // Refuses an unverifiable non-loopback broker now rather than failing every check.
  try {
    resolveClientTlsPolicy(o.broker.host, tls);
  } catch (err) {
    if (!(err instanceof TlsPolicyError)) throw err;
    throw new Error(
      `refusing to check ${o.broker.host} without a CA to verify it: pass --ca <file.pem> ` +
        "(the broker's CA or self-signed certificate), or --insecure to accept any certificate",
    );
  }
  return {
    settings: {
      target: { host: o.broker.host, port: o.broker.port, tls, timeoutMs: o.timeoutMs },
      tenant: o.tenant,
      token: o.token,
      maxFrameBytes: o.maxFrameBytes,
      replayCapacity: o.replayCapacity,
    },
    json: o.json,
    only: o.only,
    list: o.list,
  };
}

function parseHostPort(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = m === null ? NaN : Number(m[3]);
  if (m === null || port < 1 || port > 65535)
    throw new InvalidArgumentError('expected host:port, e.g. 127.0.0.1:5000 or [::1]:5000');
  return { host: m[1] ?? m[2]!, port };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, ...value.split(',').filter((g) => g !== '')];
}

function positiveInteger(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

// Checks read back what they published from `earliest`: a broker keeping less history cannot show it.
const MIN_REPLAY_CAPACITY = 16;

function replayCapacity(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < MIN_REPLAY_CAPACITY)
    throw new InvalidArgumentError(
      `expected an integer ≥ ${MIN_REPLAY_CAPACITY}: the checks read back what they publish, so the broker ` +
        `must retain at least ${MIN_REPLAY_CAPACITY} events per stream`,
    );
  return n;
}
