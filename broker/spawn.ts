/**
 * The broker program (dist/broker/main.js) in its own process, for latencydemo and cachedemo: as NATS and
 * Redis servers run when they are compared, it never shares the demo's event loop or CPU core. Its ports
 * come from its JSON log line "felix-ts broker listening"; the caller's environment should bind ephemeral
 * loopback ports and log at info (or more), or that line never comes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { onJsonLines, type JsonLine } from './json-lines.js';

/** dist/broker/main.js, next to this file. */
const BROKER_MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

const LISTENING = 'felix-ts broker listening';
const START_TIMEOUT_MS = 20_000;
// A broker under --cpu-prof writes its profile as it exits.
const STOP_TIMEOUT_MS = 10_000;
// Enough of the broker's stderr and log to say why it failed, without keeping a long run's log.
const KEPT_OUTPUT_CHARS = 4_000;

export interface BrokerProcess {
  /** host:port to connect to. */
  readonly address: string;
  /** Port of its HTTP endpoint (/metrics, /ready, /dashboard). */
  readonly metricsPort: number;
  readonly pid: number | undefined;
  /** SIGTERM (the broker drains), then SIGKILL if it has not exited in time. */
  stop(): Promise<void>;
}

/**
 * The environment a demo starts its broker with: the caller's variables (the unset ones left out), ephemeral
 * loopback ports (the broker logs the ports it got, so runs never collide with each other or with another
 * broker on the machine), and a log level that shows the "listening" line spawnBroker waits for: info, or a
 * more verbose one the caller asked for (debug, trace).
 */
export function demoBrokerEnvironment(
  env: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined) out[name] = value;
  out.FELIX_QUIC_BIND = '127.0.0.1:0';
  out.FELIX_BROKER_METRICS_BIND = '127.0.0.1:0';
  const level = out.FELIX_LOG_LEVEL;
  out.FELIX_LOG_LEVEL = level === 'debug' || level === 'trace' ? level : 'info';
  return out;
}

// Brokers still running, killed if the demo exits early (error, Ctrl-C) so none outlives it.
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

// broker/main.ts: a bad setting, or a start-up failure the operator must fix, told in one line on stderr.
const EXIT_BAD_SETTING = 2;

/** The broker exited before it reported listening. */
export class BrokerExitedError extends Error {
  override readonly name = 'BrokerExitedError';

  constructor(
    /** Its exit status; null when a signal ended it. */
    readonly exitCode: number | null,
    /** The last line it wrote on stderr. */
    readonly lastError: string,
    output: string,
  ) {
    super(`the broker exited with code ${exitCode} before listening:\n${output}`);
  }
}

/**
 * The broker's one line when `error` is its refusal of a setting (exit status 2 before listening; e.g.
 * `felix-broker: Invalid FELIX_SUB_QUEUE_POLICY …`), which a demo reports as its own bad setting, exit 2;
 * undefined for any other error, a broker that failed for another reason included.
 */
export function brokerSettingRefusal(error: unknown): string | undefined {
  return error instanceof BrokerExitedError && error.exitCode === EXIT_BAD_SETTING && error.lastError !== ''
    ? error.lastError
    : undefined;
}

/**
 * The Node flags the broker process runs with. A 4 MiB semi-space instead of V8's 16 MiB: what a flood of
 * datagrams leaves behind (the Initials' handling, and where the socket is read by Node rather than with
 * recvmmsg a malloc'd Buffer per datagram) waits for the next young-generation collection, and glibc keeps
 * the pages it reached. On the default young generation 30,000 never-finished Initials leave the broker
 * ~33 MiB larger (still so with recvmmsg; V8 returns its share after ~95 s idle, glibc keeps the rest); with
 * 4 MiB, ~12–14 MiB. Its cost: none measured at f1 b64, ~0.1 ms at batch-1 p99, ~4% of fanout-10 × 4 KiB
 * throughput, ~15% of cache put 4 KiB at 32 in flight (docs/benchmarks.md, "Initial flood", "The same
 * targets after batched UDP I/O"). `npm start` and the bins' shebangs carry the same flags
 * (test/broker/node-flags.test.ts).
 */
export const BROKER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];

/**
 * Starts `main` with BROKER_NODE_FLAGS, then `nodeFlags` (e.g. --cpu-prof, which NODE_OPTIONS does not
 * take; a later flag overrides an earlier one), and `env`.
 */
export function spawnBroker(
  env: Record<string, string>,
  nodeFlags: readonly string[] = [],
  main: string = BROKER_MAIN,
): Promise<BrokerProcess> {
  const child = spawn(process.execPath, [...BROKER_NODE_FLAGS, ...nodeFlags, main], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  let output = '';
  const keep = (text: string): void => {
    output = (output + text).slice(-KEPT_OUTPUT_CHARS);
  };
  // Its stderr alone as well: on a bad setting, its last line is the broker's whole reason.
  let errors = '';
  child.stderr!.setEncoding('utf8').on('data', (text: string) => {
    keep(text);
    errors = (errors + text).slice(-KEPT_OUTPUT_CHARS);
  });
  return new Promise<BrokerProcess>((resolve, reject) => {
    let listening = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the broker did not report listening within ${START_TIMEOUT_MS} ms:\n${output}`));
    }, START_TIMEOUT_MS);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      if (!listening) keep(chunk);
    });
    // Once it listens, the rest of its log is drained unparsed: the demos' clients share this process.
    const stopParsing = onJsonLines(child.stdout!, (entry) => {
      const ports = listening ? undefined : portsOf(entry);
      if (ports === undefined) return;
      listening = true;
      stopParsing();
      clearTimeout(timer);
      resolve({
        address: `127.0.0.1:${ports.quic}`,
        metricsPort: ports.http,
        pid: child.pid,
        stop: () => stop(child, exited),
      });
    });
    void exited.then((code) => {
      clearTimeout(timer);
      if (!listening) reject(new BrokerExitedError(code, lastLine(errors), output));
    });
  });
}

function lastLine(text: string): string {
  return text.trimEnd().split('\n').pop() ?? '';
}

/** The QUIC port of the broker's "listening" log line, or undefined for any other line. */
export function listeningPort(line: string): number | undefined {
  if (!line.includes(LISTENING)) return undefined;
  try {
    const entry = JSON.parse(line) as JsonLine;
    const port = entry.msg === LISTENING ? (entry.quic as { port?: unknown } | undefined)?.port : undefined;
    return typeof port === 'number' ? port : undefined;
  } catch {
    return undefined;
  }
}

/** The QUIC and HTTP ports of the broker's "listening" log entry, or undefined for any other entry. */
function portsOf(entry: JsonLine): { quic: number; http: number } | undefined {
  if (entry.msg !== LISTENING) return undefined;
  const quic = (entry.quic as { port?: unknown } | undefined)?.port;
  const http = (entry.http as { port?: unknown } | undefined)?.port;
  return typeof quic === 'number' && typeof http === 'number' ? { quic, http } : undefined;
}

async function stop(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}
