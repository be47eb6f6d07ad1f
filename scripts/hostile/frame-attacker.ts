#!/usr/bin/env node
/**
 * The hostile client of the cross-process run (issue 10, 5b): opens several connections with several
 * streams each and, on a fresh stream per case, sends generated hostile frames (scripts/hostile/
 * hostile-cases.ts), a valid probe request when the stream may continue, and FIN; then records what the
 * broker did about it. Bounded by a case count and a duration, whichever ends first. Prints one JSON
 * summary line on stdout; the seed goes to stderr first, so an interrupted run can be replayed too.
 *
 *   node dist/scripts/hostile/frame-attacker.js --port 5000 [--seed N] [--cases 3000] [--duration-ms 25000]
 *   node dist/scripts/hostile/frame-attacker.js --port 5000 --seed N --case I     # replays one case, verbosely
 */
import { parseArgs } from 'node:util';
import type { CloseInfo } from '../../transport/index.js';
import { DEFAULT_MAX_FRAME_BYTES, FELIX_FLAGS, FLAG_MSGPACK, WireError } from '../../wire/index.js';
import { ackedPublish } from './frames.js';
import type { AttackSummary, CategoryTally } from './summaries.js';
import { generateCase, probeRequestId, type HostileCase } from './hostile-cases.js';
import { randomSeed } from './prng.js';
import {
  IN_FLIGHT_TAIL,
  RawFrameStream,
  describeFrame,
  openConnection,
  type RawConnection,
} from './raw-stream.js';

interface Options {
  port: number;
  seed: number;
  cases: number;
  durationMs: number;
  connections: number;
  streamsPerConnection: number;
  caseTimeoutMs: number;
  maxFrameBytes: number;
}

type Result =
  | { kind: 'done'; stream: RawFrameStream; probeId: number | null }
  | { kind: 'connection-closed'; problem: string };

const POLL_GAP = (): Promise<void> => new Promise((r) => setImmediate(r));

/** One of the attacker's connections; reconnects when the broker (or the network) closed it. */
class ConnectionSlot {
  private current: RawConnection | null = null;
  private connecting: Promise<RawConnection> | null = null;

  constructor(
    readonly port: number,
    private readonly onClosed: (info: CloseInfo) => void,
  ) {}

  async get(): Promise<RawConnection> {
    if (this.current !== null && !this.current.connection.closed) return this.current;
    this.connecting ??= this.connect().finally(() => (this.connecting = null));
    return this.connecting;
  }

  private async connect(): Promise<RawConnection> {
    if (this.current !== null) await this.current.close();
    const raw = await openConnection(this.port);
    raw.connection.onClose = (info) => this.onClosed(info);
    // Valid subscribes among the cases make the broker open event streams: read and drop them.
    raw.connection.onStream = (s) => {
      s.onData = () => undefined;
    };
    this.current = raw;
    return raw;
  }

  async close(): Promise<void> {
    await this.current?.close();
  }
}

async function runCase(slot: ConnectionSlot, c: HostileCase, timeoutMs: number): Promise<Result> {
  return c.unidirectional
    ? runUnidirectionalCase(slot.port, c, timeoutMs)
    : runStreamCase(slot, c, timeoutMs);
}

/**
 * A unidirectional stream on a connection of its own: quiche reports the broker's STOP_SENDING code
 * only while our stream still has bytes in flight (see IN_FLIGHT_TAIL), which on a long-used connection,
 * whose congestion window has grown, the tail no longer guarantees.
 */
async function runUnidirectionalCase(port: number, c: HostileCase, timeoutMs: number): Promise<Result> {
  let conn: RawConnection;
  try {
    conn = await openConnection(port);
  } catch (err) {
    return { kind: 'connection-closed', problem: `cannot connect: ${(err as Error).message}` };
  }
  try {
    const raw = new RawFrameStream(conn.connection.openStream(false));
    // All in one go: the tail must already be queued when the broker's STOP_SENDING arrives.
    for (const bytes of c.writes) tryWrite(raw, bytes);
    tryWrite(raw, IN_FLIGHT_TAIL);
    await raw.awaitStopSending(timeoutMs);
    raw.forget();
    return { kind: 'done', stream: raw, probeId: null };
  } finally {
    await conn.close();
  }
}

async function runStreamCase(slot: ConnectionSlot, c: HostileCase, timeoutMs: number): Promise<Result> {
  let conn: RawConnection;
  try {
    conn = await slot.get();
  } catch (err) {
    return { kind: 'connection-closed', problem: `cannot connect: ${(err as Error).message}` };
  }
  let raw: RawFrameStream;
  try {
    if (!c.auth) raw = new RawFrameStream(conn.connection.openStream());
    else {
      const auth = c.msgpack ? { client_flags: FELIX_FLAGS | FLAG_MSGPACK } : {};
      raw = await RawFrameStream.open(conn.connection, auth, timeoutMs);
    }
  } catch (err) {
    if (conn.connection.closed) return { kind: 'connection-closed', problem: (err as Error).message };
    throw err;
  }
  for (const bytes of c.writes) {
    tryWrite(raw, bytes);
    await POLL_GAP(); // pieces of one frame leave in separate packets
  }
  const probeId = c.probe ? probeRequestId(c.index) : null;
  if (probeId !== null) tryWrite(raw, ackedPublish(probeId, 'probe', 'flood-probe'));
  try {
    if (raw.stream.writable) raw.end();
  } catch {
    // The broker stopped our sending side already.
  }
  await raw
    .until(() => raw.ended || raw.stopCode !== null || conn.connection.closed, 'the stream to end', timeoutMs)
    .catch(() => undefined);
  raw.forget();
  if (conn.connection.closed && !raw.ended && raw.received.length === 0) {
    return { kind: 'connection-closed', problem: 'connection closed during the case' };
  }
  return { kind: 'done', stream: raw, probeId };
}

function tryWrite(raw: RawFrameStream, bytes: Uint8Array): void {
  try {
    if (raw.stream.writable) raw.write(bytes);
  } catch {
    // Stopped by the broker (STOP_SENDING) between two writes: what it stopped is its answer.
  }
}

/** What the broker did about one case, and whether that breaks the contract. */
function judge(
  c: HostileCase,
  result: Result,
): { tally: Partial<CategoryTally>; problem: string | null; errors: number } {
  if (result.kind === 'connection-closed')
    return { tally: { connectionClosed: 1 }, problem: null, errors: 0 };
  const { stream, probeId } = result;
  // The auth answer was taken by next(); everything unread came after the hostile bytes.
  const frames = stream.unread;
  const undecodable = frames.find((f) => f instanceof WireError);
  const errors = frames.filter(
    (f) =>
      !(f instanceof WireError) &&
      (f.type === 'error' || (f.type === 'publish_error' && f.request_id !== probeId)),
  ).length;
  const continued = frames.some(
    (f) => !(f instanceof WireError) && f.type === 'publish_ok' && f.request_id === probeId,
  );
  const answered = errors > 0 || stream.resetCode !== null || stream.stopCode !== null;
  const tally: Partial<CategoryTally> = {
    answered: answered ? 1 : 0,
    continued: continued ? 1 : 0,
    closedQuietly: !answered && stream.finished ? 1 : 0,
  };
  let problem: string | null = null;
  if (undecodable !== undefined)
    problem = `the broker sent an undecodable frame: ${describeFrame(undecodable)}`;
  else if (frames.length === 0 && !stream.ended && stream.stopCode === null)
    problem = 'silence: no reply, no reset, no FIN';
  else if (c.expect === 'error' && !answered)
    problem = `no error reply or reset; got ${frames.map(describeFrame).join(', ') || 'nothing'} then ${stream.endDescription()}`;
  return { tally, problem, errors };
}

async function attack(options: Options, log: (line: string) => void): Promise<AttackSummary> {
  const summary: AttackSummary = {
    seed: options.seed,
    cases: 0,
    errorReplies: 0,
    resets: {},
    stopSendings: {},
    byCategory: {},
    connectionCloses: [],
    violations: [],
    replay: `node dist/scripts/hostile/frame-attacker.js --port <broker port> --seed ${options.seed} --case <index>`,
  };
  const limits = { maxFrameBytes: options.maxFrameBytes };
  const slots = Array.from(
    { length: options.connections },
    () =>
      new ConnectionSlot(options.port, (info) =>
        summary.connectionCloses.push({
          code: info.code,
          isApp: info.isApp,
          reason: info.reason,
          byPeer: info.byPeer,
        }),
      ),
  );
  const deadline = Date.now() + options.durationMs;
  let nextIndex = 0;
  const worker = async (slot: ConnectionSlot): Promise<void> => {
    while (Date.now() < deadline && nextIndex < options.cases) {
      const c = generateCase(options.seed, nextIndex++, limits);
      const result = await runCase(slot, c, options.caseTimeoutMs);
      const verdict = judge(c, result);
      const tally = (summary.byCategory[c.category] ??= {
        cases: 0,
        answered: 0,
        continued: 0,
        closedQuietly: 0,
        connectionClosed: 0,
      });
      tally.cases++;
      for (const [key, value] of Object.entries(verdict.tally)) tally[key as keyof CategoryTally] += value;
      summary.cases++;
      summary.errorReplies += verdict.errors;
      if (result.kind === 'done') {
        const { resetCode, stopCode } = result.stream;
        if (resetCode !== null) bump(summary.resets, resetCode);
        if (stopCode !== null) bump(summary.stopSendings, stopCode);
      }
      if (verdict.problem !== null) {
        summary.violations.push({ index: c.index, category: c.category, problem: verdict.problem });
        log(`case ${c.index} (${c.category}): ${verdict.problem}`);
      }
    }
  };
  await Promise.all(
    slots.flatMap((slot) => Array.from({ length: options.streamsPerConnection }, () => worker(slot))),
  );
  await Promise.all(slots.map((s) => s.close()));
  return summary;
}

function bump(counts: Record<string, number>, code: number): void {
  const key = `0x${code.toString(16)}`;
  counts[key] = (counts[key] ?? 0) + 1;
}

/** Replays one case and prints everything about it. */
async function replay(options: Options, index: number): Promise<void> {
  const c = generateCase(options.seed, index, { maxFrameBytes: options.maxFrameBytes });
  process.stdout.write(
    `case ${index} (${c.category}, expect ${c.expect}, auth ${c.auth}, msgpack ${c.msgpack}, ` +
      `unidirectional ${c.unidirectional}, probe ${c.probe})\n`,
  );
  c.writes.forEach((w, i) =>
    process.stdout.write(`write ${i}: ${w.length} bytes: ${w.subarray(0, 256).toString('hex')}\n`),
  );
  const slot = new ConnectionSlot(options.port, (info) =>
    process.stdout.write(`connection closed: ${JSON.stringify(info)}\n`),
  );
  const result = await runCase(slot, c, options.caseTimeoutMs);
  if (result.kind === 'done') {
    for (const f of result.stream.unread) process.stdout.write(`received: ${describeFrame(f)}\n`);
    process.stdout.write(
      `stream: ${result.stream.endDescription()}, stop ${result.stream.stopCode ?? 'none'}\n`,
    );
  }
  process.stdout.write(`verdict: ${judge(c, result).problem ?? 'ok'}\n`);
  await slot.close();
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      seed: { type: 'string' },
      cases: { type: 'string', default: '3000' },
      'duration-ms': { type: 'string', default: '25000' },
      connections: { type: 'string', default: '3' },
      'streams-per-connection': { type: 'string', default: '4' },
      'case-timeout-ms': { type: 'string', default: '10000' },
      'max-frame-bytes': { type: 'string', default: String(DEFAULT_MAX_FRAME_BYTES) },
      case: { type: 'string' },
    },
  });
  if (values.port === undefined) throw new Error('--port is required (the broker is on 127.0.0.1)');
  const options: Options = {
    port: Number(values.port),
    seed: values.seed === undefined ? randomSeed() : Number(values.seed) >>> 0,
    cases: Number(values.cases),
    durationMs: Number(values['duration-ms']),
    connections: Number(values.connections),
    streamsPerConnection: Number(values['streams-per-connection']),
    caseTimeoutMs: Number(values['case-timeout-ms']),
    maxFrameBytes: Number(values['max-frame-bytes']),
  };
  process.stderr.write(`frame-attacker: seed ${options.seed}\n`);
  if (values.case !== undefined) {
    await replay(options, Number(values.case));
    return;
  }
  const summary = await attack(options, (line) => process.stderr.write(`frame-attacker: ${line}\n`));
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`frame-attacker: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
