/**
 * One hostile case against the engine, checked against the contract: the bytes go through the very
 * session code a QUIC stream drives (ConnectionSession.onStream → StreamSession), in the chunks the case
 * chose, and afterwards
 * - nothing escaped onData and the broker's per-connection guard was never needed (internalErrors stays);
 * - every complete frame got its answer (answer-model.ts), decodable, in the negotiated encoding, with the
 *   right code and request_id, and no answer was held back past the chunk that completed its frame;
 * - the stream ended exactly when the contract says (FIN + STOP_SENDING 0x101 for lost framing or no auth,
 *   FIN after the client's FIN), never by RESET_STREAM, and its event streams ended with it;
 * - a stream that continues still serves a valid request, and so does a fresh stream of the connection.
 * A violation throws an Error describing the case, so fast-check shrinks it and reports the smallest.
 */
import { isValidName } from '../../config/tenants.js';
import { STREAM_CODE_PROTOCOL_ERROR, FLAG_MSGPACK, FrameDecoder, encodeMessage } from '../../wire/index.js';
import type { Broker } from '../../broker/core/broker.js';
import { expectAnswers, matchAnswers, type Answer } from './answer-model.js';
import { EngineConnection, decodeAnswers, serverFlags, settle } from './engine-harness.js';
import {
  DEFAULT_OFFER,
  caseBytes,
  describeBytes,
  splitIntoChunks,
  type HostileCase,
  type HostileTarget,
} from './hostile-frames.js';
import type { MemoryStream } from './memory-stream.js';

export interface RunTotals {
  /** Generated hostile frames sent (auth and probes not counted). */
  framesSent: number;
  /** Complete frames (or refused headers) the broker had to answer or accept. */
  framesExamined: number;
  cases: number;
}

export function newTotals(): RunTotals {
  return { framesSent: 0, framesExamined: 0, cases: 0 };
}

let probeIds = 1_000_000;

export async function runHostileCase(
  broker: Broker,
  logs: string[],
  target: HostileTarget,
  c: HostileCase,
  totals: RunTotals,
): Promise<void> {
  const internalBefore = broker.stats.internalErrors;
  const logsBefore = logs.length;
  const conn = new EngineConnection(broker);
  const bytes = caseBytes(target, c);
  const model = expectAnswers(bytes, {
    maxFrameBytes: target.maxFrameBytes,
    serverFlags: serverFlags(broker),
    connectionBudget: broker.budget.connectionLimit,
  });
  const context = { errorCodes: model.errorCodes, msgpack: (model.negotiated & FLAG_MSGPACK) !== 0 };
  const s = conn.stream();
  const fail = (why: string): never => {
    throw new Error(
      `${why}\n  case: auth ${JSON.stringify(c.auth)}, chunks ${JSON.stringify(c.chunks)}, fin ${c.fin}` +
        `\n  bytes sent (hex): ${describeBytes(bytes)}` +
        `\n  expected: ${model.answers.map((a) => `${a.what}@${a.start}:${a.need}`).join(', ')}${model.endsAt === null ? '' : ` then end at ${model.endsAt}`}` +
        `\n  answers: ${describeAnswers(decodeAnswers(s.received()))}` +
        `\n  stream: fin ${s.finReceived}, stop ${hex(s.stopCode)}, reset ${hex(s.resetCode)}, paused ${s.isPaused}, delivered ${s.delivered}/${bytes.length}` +
        `\n  connection: closed ${hex(conn.peer.closeCode)} ${conn.peer.closeReason}, internal errors +${broker.stats.internalErrors - internalBefore}` +
        (conn.peer.escaped.length > 0
          ? `\n  escaped onData: ${String((conn.peer.escaped[0] as Error)?.stack ?? conn.peer.escaped[0])}`
          : '') +
        (logs.length > logsBefore
          ? `\n  broker log: ${logs
              .slice(logsBefore, logsBefore + 3)
              .join('')
              .slice(0, 3000)}`
          : ''),
    );
  };
  const checkContained = (when: string): void => {
    if (conn.peer.escaped.length > 0) fail(`an exception escaped onData ${when}`);
    if (broker.stats.internalErrors !== internalBefore)
      fail(`the per-connection guard caught an internal error ${when}`);
    if (conn.peer.closed) fail(`the connection was closed ${when}`);
  };

  try {
    const chunks = splitIntoChunks(bytes, c.chunks);
    // Where each frame that needs an answer can be answered, in stream order.
    const dueAt = model.answers.filter((a) => a.need === 'one').map((a) => a.answerableAt);
    const answered = new FrameCounter(s);
    let due = 0;
    chunks.forEach((chunk, i) => {
      s.clientWrite(chunk, c.fin && i === chunks.length - 1);
      checkContained(`after chunk ${i}`);
      // Answers go out with the read that completed their frame: never silence for a complete frame.
      while (due < dueAt.length && dueAt[due]! <= s.delivered) due++;
      const given = answered.count();
      if (given < due)
        fail(`after chunk ${i} (${s.delivered} bytes read) ${due} frames await an answer, ${given} answered`);
    });
    if (c.fin && chunks.length === 0) s.clientFinish();
    await settle();
    checkContained('after the case');
    if (s.delivered < Math.min(bytes.length, model.endsAt ?? Infinity) && s.stopCode === null) {
      fail(`the broker left ${bytes.length - s.delivered} bytes unread`);
    }

    const received = s.received();
    if (!wholeFrames(received)) fail('the stream received a partial frame');
    const answers = decodeAnswers(received);
    const why = matchAnswers(model.answers, answers, context);
    if (why !== null) fail(why);

    if (model.endsAt !== null) {
      // STOP_SENDING only while the client still sends: once its FIN is read there is nothing to stop.
      const stopped = s.stopCode === STREAM_CODE_PROTOCOL_ERROR || (c.fin && s.stopCode === null);
      if (!s.finReceived || !stopped) fail('framing lost or no auth: expected FIN and STOP_SENDING 0x101');
    } else if (c.fin) {
      if (!s.finReceived || s.stopCode !== null)
        fail('the client ended the stream: expected the broker’s FIN alone');
    } else if (s.finReceived || s.stopCode !== null || !s.writable) {
      fail('the stream should go on');
    }
    if (s.resetCode !== null)
      fail('the broker reset a client stream (a RESET_STREAM discards the error it wrote)');
    checkEventStreams(conn, s, fail);

    if (model.authenticated && model.atBoundary && model.endsAt === null && !c.fin) {
      const id = probeIds++;
      const before = answers.length;
      s.clientWrite(
        encodeMessage({
          type: 'publish',
          // The tenant the stream authenticated for: a mutated auth may name another valid one.
          tenant_id: model.tenant,
          namespace: 'ns',
          stream: 's',
          payload: Buffer.from('probe'),
          request_id: id,
          ack: 'per_message',
        }),
      );
      await settle();
      const after = decodeAnswers(s.received());
      const last = after[after.length - 1]?.frame;
      // An auth whose tenant breaks the name rules is answered as usual and its requests refused
      // (docs/protocol.md, "Names"): the probe then gets that refusal, still answered.
      const expected = isValidName(model.tenant) ? 'publish_ok' : 'publish_error';
      if (after.length !== before + 1 || last?.type !== expected || last.request_id !== id) {
        fail(
          `a publish on the same stream afterwards did not get ${expected} (got ${describeAnswers(after.slice(before))})`,
        );
      }
    }
    await probeFreshStream(conn, target, fail);
    checkContained('after the probes');
  } finally {
    conn.dispose();
  }
  if (conn.peer.escaped.length > 0) fail('an exception escaped while the connection was released');
  totals.cases++;
  totals.framesSent += c.frames.length;
  totals.framesExamined += model.answers.length - (c.auth === null ? 0 : 1);
}

/** A fresh stream of the same connection: auth, an acked publish and a cache read are all answered. */
async function probeFreshStream(
  conn: EngineConnection,
  target: HostileTarget,
  fail: (why: string) => never,
): Promise<void> {
  const id = probeIds++;
  const fresh = conn.authedStream({ tenant_id: target.tenant, ...DEFAULT_OFFER });
  fresh.clientWrite(
    encodeMessage({
      type: 'publish',
      tenant_id: target.tenant,
      namespace: 'ns',
      stream: 's',
      payload: Buffer.from('p'),
      request_id: id,
      ack: 'per_batch',
    }),
  );
  fresh.clientWrite(
    encodeMessage({
      type: 'cache_get',
      tenant_id: target.tenant,
      namespace: 'ns',
      cache: 'c',
      key: 'probe',
      request_id: id + 1,
    }),
  );
  await settle();
  const got = decodeAnswers(fresh.received()).map((a) => a.frame);
  const ok =
    got.length === 3 &&
    got[0]?.type === 'auth_ok' &&
    got[1]?.type === 'publish_ok' &&
    got[1].request_id === id &&
    got[2]?.type === 'cache_value' &&
    got[2].request_id === id + 1;
  if (!ok)
    fail(`a fresh stream of the same connection was not served (got ${JSON.stringify(got).slice(0, 400)})`);
}

/** Event streams opened from this stream: hello first, decodable, and ended (FIN) once it ended. */
function checkEventStreams(
  conn: EngineConnection,
  control: MemoryStream,
  fail: (why: string) => never,
): void {
  const controlEnded = control.finReceived;
  for (const events of conn.peer.brokerStreams) {
    const frames = decodeAnswers(events.received());
    if (frames.length === 0 || frames[0]!.frame?.type !== 'event_stream_hello')
      fail(`event stream ${events.id} did not start with its hello`);
    const bad = frames.find((f) => f.frame === null);
    if (bad !== undefined) fail(`event stream ${events.id} carried an undecodable frame: ${bad.undecodable}`);
    if (events.resetCode !== null) fail(`event stream ${events.id} was reset with ${hex(events.resetCode)}`);
    if (controlEnded && !events.finReceived) fail(`event stream ${events.id} outlived its control stream`);
  }
}

/** Counts the frames a stream received, reading only what arrived since the last count. */
class FrameCounter {
  private frames = 0;
  private read = 0;
  private readonly decoder = new FrameDecoder(
    { onFrame: () => void this.frames++, onError: () => void this.frames++ },
    { maxFrameBytes: 0xffffffff },
  );

  constructor(private readonly stream: MemoryStream) {}

  count(): number {
    const chunks = this.stream.receivedChunks;
    while (this.read < chunks.length) this.decoder.push(chunks[this.read++]!);
    return this.frames;
  }
}

function wholeFrames(bytes: Uint8Array): boolean {
  const decoder = new FrameDecoder({ onFrame: () => {}, onError: () => {} }, { maxFrameBytes: 0xffffffff });
  decoder.push(bytes);
  return decoder.bufferedBytes === 0;
}

function describeAnswers(answers: readonly Answer[]): string {
  const text = answers
    .map((a) =>
      a.frame === null
        ? `<undecodable: ${a.undecodable}>`
        : `0x${a.flags.toString(16)}:${JSON.stringify(a.frame, (_k, v: unknown) => (v instanceof Uint8Array ? `<${v.length} bytes>` : v))}`,
    )
    .join(' | ');
  return text.length > 2000 ? `${text.slice(0, 2000)}…` : text || '(none)';
}

function hex(code: number | null): string {
  return code === null ? 'none' : `0x${code.toString(16)}`;
}
