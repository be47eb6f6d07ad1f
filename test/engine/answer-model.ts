/**
 * What the broker must answer to a stream's bytes, per docs/protocol.md and the issue-10 contract, worked
 * out on the client's side: the bytes are split into frames the way the broker's FrameDecoder splits them
 * (so a lying length swallows what follows, exactly as it does in the broker), and each frame is classified
 * with wire/'s own decoders — the broker must answer whatever they reject, and may stay silent only for
 * publishes that need no ack.
 *
 * The model does not re-implement the broker: it says which answers are acceptable for each frame (types,
 * code, request_id) and which frames end the stream; matching the answers the broker gave against it is
 * done by matchAnswers().
 */
import { Unpackr } from 'msgpackr';
import { FRAME_ENVELOPE_RESERVE_BYTES } from '../../config/shared-settings.js';
import { isValidName } from '../../config/tenants.js';
import {
  FEATURE_ERROR_CODES,
  FLAG_MSGPACK,
  HEADER_BYTES,
  KNOWN_FLAGS,
  MAGIC,
  VERSION,
  WireError,
  decodeBinaryPublishBatch,
  decodeMessage,
  negotiateFlags,
  PublishChunkAssembler,
  payloadLayout,
  supportsFeature,
  type DecodedFrame,
  type Message,
} from '../../wire/index.js';

/** One answer frame the broker wrote, decoded (or the reason it could not be). */
export interface Answer {
  readonly flags: number;
  readonly frame: DecodedFrame | null;
  /** Set when the answer did not decode: the broker wrote something a client cannot read. */
  readonly undecodable?: string;
}

/** What one frame of the client's bytes must get. */
export interface ExpectedAnswer {
  /** Where the frame starts in the stream, and the byte after which the broker can answer it. */
  readonly start: number;
  readonly answerableAt: number;
  /** 'one': exactly one answer; 'optional': none or one (a chunk piece); 'none': no answer (an accepted unacked publish). */
  readonly need: 'one' | 'optional' | 'none';
  /** Acceptable answer types. */
  readonly types: ReadonlySet<string>;
  /** The error code the answer must carry, when it is an error and the client takes codes. */
  readonly code?: string;
  /** The request id the answer must name (undefined: it must name none; 'any': not checked). */
  readonly requestId: number | undefined | 'any';
  /** This frame ends the stream: FIN after its answer and STOP_SENDING 0x101. */
  readonly ends: boolean;
  /** A binary acked batch: acked with the binary ack (0x10), refused with it unless the client takes codes. */
  readonly binary?: boolean;
  /** For messages: a description used in failure reports. */
  readonly what: string;
}

export interface StreamExpectation {
  readonly answers: readonly ExpectedAnswer[];
  /** Byte offset after which the broker ends the stream (fatal framing, or no auth first), or null. */
  readonly endsAt: number | null;
  /** The bytes end between frames, with the decoder expecting a header: a later request is read as one. */
  readonly atBoundary: boolean;
  /** The stream authenticated, for which tenant, and with which negotiated flags / error codes. */
  readonly authenticated: boolean;
  readonly tenant: string;
  readonly negotiated: number;
  readonly errorCodes: boolean;
}

const ERROR = new Set(['error']);
const ERROR_OR_PUBLISH_ERROR = new Set(['error', 'publish_error']);

/**
 * Splits `bytes` as the broker's FrameDecoder does and says what each frame must get. `authenticated`:
 * the bytes continue a stream that already sent its auth (with `negotiated` flags and `errorCodes`).
 */
export function expectAnswers(
  bytes: Uint8Array,
  options: {
    maxFrameBytes: number;
    serverFlags: number;
    /** FELIX_BROKER_PUBLISH_CONN_INFLIGHT_BYTES: the most a chunked publish may announce. */
    connectionBudget: number;
  },
): StreamExpectation {
  const answers: ExpectedAnswer[] = [];
  const chunks = new ChunkModel(options.connectionBudget, options.maxFrameBytes);
  let authenticated = false;
  let negotiated = 0;
  let errorCodes = false;
  let tenant = '';
  let at = 0;
  let endsAt: number | null = null;
  let atBoundary = true;
  const add = (a: Omit<ExpectedAnswer, 'ends'> & { ends?: boolean }): void => {
    answers.push({ ends: false, ...a });
    if (a.ends) endsAt = a.answerableAt;
  };
  while (endsAt === null) {
    if (bytes.length - at < HEADER_BYTES) {
      atBoundary = at === bytes.length;
      break;
    }
    const start = at;
    const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    const magic = view.readUInt32BE(at);
    const version = view.readUInt16BE(at + 4);
    const flags = view.readUInt16BE(at + 6);
    const length = view.readUInt32BE(at + 8);
    const headerEnd = at + HEADER_BYTES;
    if (magic !== MAGIC || version !== VERSION) {
      // Framing is lost: an error, then the stream ends.
      add({
        start,
        answerableAt: headerEnd,
        need: 'one',
        types: ERROR,
        code: authenticated ? 'invalid_request' : 'unauthenticated',
        requestId: undefined,
        ends: true,
        what: magic !== MAGIC ? 'bad magic' : 'bad version',
      });
      break;
    }
    if (length > options.maxFrameBytes || (flags & ~KNOWN_FLAGS) !== 0) {
      // Refused from its header: answered at once, the payload skipped unread.
      const oversize = length > options.maxFrameBytes;
      add({
        start,
        answerableAt: headerEnd,
        need: 'one',
        types: ERROR,
        code: !authenticated ? 'unauthenticated' : oversize ? 'limit_exceeded' : 'invalid_request',
        requestId: undefined,
        ends: !authenticated,
        what: oversize ? `frame of ${length} bytes over the limit` : `unknown flags 0x${flags.toString(16)}`,
      });
      at = headerEnd + length;
      if (at > bytes.length) {
        atBoundary = false;
        break;
      }
      continue;
    }
    const end = headerEnd + length;
    if (end > bytes.length) {
      atBoundary = false;
      break;
    }
    const payload = Buffer.from(view.subarray(headerEnd, end));
    at = end;
    if (!authenticated) {
      const auth = readAuth(flags, payload);
      if (auth === null) {
        add({
          start,
          answerableAt: end,
          need: 'one',
          types: ERROR,
          code: 'unauthenticated',
          requestId: undefined,
          ends: true,
          what: 'not an auth',
        });
      } else {
        authenticated = true;
        tenant = auth.tenant_id;
        negotiated = negotiateFlags(auth.client_flags, options.serverFlags);
        errorCodes = supportsFeature(auth.client_features ?? 0, FEATURE_ERROR_CODES);
        add({
          start,
          answerableAt: end,
          need: 'one',
          types: new Set([auth.client_flags === undefined ? 'ok' : 'auth_ok']),
          requestId: undefined,
          what: 'auth',
        });
      }
      continue;
    }
    // A chunk piece restarting a publish in progress answers for both: the one it ends, then itself.
    for (const expected of [expectRequest(flags, payload, tenant, chunks)].flat()) {
      add({ start, answerableAt: end, ...expected });
    }
  }
  return {
    answers,
    endsAt,
    atBoundary: endsAt === null && atBoundary,
    authenticated,
    tenant,
    negotiated,
    errorCodes,
  };
}

/** The stream's first frame as an auth: always JSON (flags 0), whatever the client means to offer. */
function readAuth(flags: number, payload: Buffer): Extract<Message, { type: 'auth' }> | null {
  if (flags !== 0) return null;
  try {
    const m = decodeMessage(flags, payload);
    return m.type === 'auth' ? m : null;
  } catch {
    return null;
  }
}

type RequestExpectation = Omit<ExpectedAnswer, 'start' | 'answerableAt' | 'ends'>;

/** What an authenticated stream (auth for `tenant`) must answer to one complete frame. */
function expectRequest(
  flags: number,
  payload: Buffer,
  tenant: string,
  chunks: ChunkModel,
): RequestExpectation | RequestExpectation[] {
  let layout;
  try {
    layout = payloadLayout(flags);
  } catch {
    return refused(undefined, false, `flags 0x${flags.toString(16)} form no layout`);
  }
  if (layout === 'binary_publish_batch' || layout === 'binary_acked_publish_batch') {
    let batch;
    try {
      batch = decodeBinaryPublishBatch(flags, payload);
    } catch (err) {
      return decodeFailure(err, 'binary batch', true);
    }
    return publish(batch, tenant, batch.stream, true, 'binary batch');
  }
  if (layout !== 'json' && layout !== 'msgpack')
    return refused(undefined, false, `flags 0x${flags.toString(16)} are not a request`);
  let m: Message;
  try {
    m = decodeMessage(flags, payload);
  } catch (err) {
    return decodeFailure(err, (flags & FLAG_MSGPACK) !== 0 ? 'MessagePack' : 'JSON', false, {
      flags,
      payload,
    });
  }
  if (holdsIllFormedText(flags, payload)) {
    // Strings must be well-formed: refused as malformed input, naming the request whose id can be read.
    const requestId = 'request_id' in m && typeof m.request_id === 'number' ? m.request_id : undefined;
    return refused(
      requestId,
      isPublish(m.type) && ackedAsWritten({ flags, payload }),
      `${m.type} with a string that is not well-formed`,
    );
  }
  switch (m.type) {
    case 'publish':
    case 'publish_batch':
      return publish(m, tenant, m.stream, false, m.type);
    case 'publish_chunk':
      return chunks.expect(m, tenant);
    case 'subscribe':
      return (
        addressRefusal(m, tenant, m.stream, undefined, false, 'subscribe') ?? {
          need: 'one',
          types: new Set(['subscribed', 'subscribe_cursor_error', 'error']),
          requestId: undefined,
          what: 'subscribe',
        }
      );
    case 'cache_put':
      return (
        addressRefusal(m, tenant, m.cache, m.request_id, false, 'cache_put') ?? {
          need: 'one',
          types: new Set(m.request_id === undefined ? ['ok', 'error'] : ['cache_ok', 'error']),
          requestId: m.request_id,
          what: 'cache_put',
        }
      );
    case 'cache_get':
    case 'cache_delete':
      return (
        addressRefusal(m, tenant, m.cache, m.request_id, false, m.type) ?? {
          need: 'one',
          types: new Set(['cache_value', 'error']),
          requestId: m.request_id,
          what: m.type,
        }
      );
    case 'auth':
      return {
        need: 'one',
        types: ERROR,
        code: 'invalid_request',
        requestId: undefined,
        what: 'second auth',
      };
    default:
      return {
        need: 'one',
        types: ERROR,
        code: 'invalid_request',
        requestId: 'request_id' in m && typeof m.request_id === 'number' ? m.request_id : undefined,
        what: `${m.type} from a client`,
      };
  }
}

/**
 * The pieces of chunked publishes on one stream, reassembled with wire/'s own assembler as the broker
 * reassembles them: a piece that breaks the sequence is refused naming the publish it belongs to (the
 * request_id of its first piece, the piece that carries it) and that publish's later pieces get no answer,
 * a first piece reusing the id of a publish in progress ends that one (refused) and starts its own, the
 * last piece of a publish is answered as that publish, and other pieces get no answer.
 */
class ChunkModel {
  private readonly assembler: PublishChunkAssembler;
  /** The ack of each publish in progress, from its first piece. */
  private readonly acks = new Map<number, { requestId: number | undefined; acked: boolean }>();
  /** The largest message: FELIX_MAX_FRAME_BYTES less the event envelope, within the connection budget. */
  private readonly largest: number;
  /** Publishes refused at their first piece: their later pieces get no answer. */
  private readonly refused = new Set<number>();

  constructor(
    private readonly connectionBudget: number,
    maxFrameBytes: number,
  ) {
    this.largest = Math.min(connectionBudget, maxFrameBytes - FRAME_ENVELOPE_RESERVE_BYTES);
    this.assembler = new PublishChunkAssembler({ maxPayloadBytes: this.largest });
  }

  expect(
    m: Extract<Message, { type: 'publish_chunk' }>,
    tenant: string,
  ): RequestExpectation | RequestExpectation[] {
    const ownAck = m.request_id !== undefined && m.ack !== undefined && m.ack !== 'none';
    const ended = m.byte_offset === 0 ? this.restarted(m.publish_id) : undefined;
    if (ended === undefined) return this.expectPiece(m, tenant, ownAck);
    return [ended, this.expectPiece(m, tenant, ownAck)];
  }

  /**
   * A first piece under the id of a publish in progress ends that publish, refused naming its own request
   * (then the piece starts a new one).
   */
  private restarted(publishId: number): RequestExpectation | undefined {
    const old = this.acks.get(publishId);
    if (old === undefined) return undefined;
    this.acks.delete(publishId);
    this.assembler.abandon(publishId);
    return refused(old.requestId, old.acked, `publish_chunk ${publishId} restarted`);
  }

  private expectPiece(
    m: Extract<Message, { type: 'publish_chunk' }>,
    tenant: string,
    ownAck: boolean,
  ): RequestExpectation {
    if (this.refused.has(m.publish_id)) {
      if (m.byte_offset !== 0) {
        if (m.byte_offset + m.payload.length >= m.total_len) this.refused.delete(m.publish_id);
        return {
          need: 'none',
          types: ERROR,
          requestId: undefined,
          what: `refused publish_chunk ${m.publish_id}`,
        };
      }
      this.refused.delete(m.publish_id);
    }
    const first = !this.acks.has(m.publish_id);
    const pending = first ? { requestId: m.request_id, acked: ownAck } : this.acks.get(m.publish_id)!;
    if (m.byte_offset === 0) {
      // Refused at its first piece when it may not be published at all (another tenant, a bad name):
      // its later pieces are dropped unanswered.
      const refusal = addressRefusal(
        m,
        tenant,
        m.stream,
        m.request_id,
        ownAck,
        `publish_chunk ${m.publish_id}`,
      );
      if (refusal !== undefined) {
        if (m.payload.length < m.total_len) this.refused.add(m.publish_id);
        return refusal;
      }
    }
    if (m.byte_offset === 0 && m.total_len > Math.min(this.largest, this.connectionBudget)) {
      // Refused from its first piece, before reassembly: it could never be delivered (payload_too_large) or
      // admitted (overloaded). (Several unfinished publishes that together pass the budget are refused too;
      // the generated ones stay far below it.) Its later pieces are dropped unanswered.
      if (m.payload.length < m.total_len && first) this.refused.add(m.publish_id);
      return {
        need: 'one',
        types: ownAck ? new Set(['publish_error']) : ERROR,
        code: m.total_len > this.largest ? 'payload_too_large' : 'overloaded',
        requestId: m.request_id,
        what: `publish_chunk ${m.publish_id} too large`,
      };
    }
    if (m.byte_offset === 0 && this.assembler.full) {
      // A bound on publishes in progress on the stream (limit_exceeded, retry_after): refused at its first
      // piece, its later pieces dropped unanswered.
      if (m.payload.length < m.total_len) this.refused.add(m.publish_id);
      return {
        ...refused(m.request_id, ownAck, `publish_chunk ${m.publish_id}: too many in progress`),
        code: 'limit_exceeded',
      };
    }
    let whole;
    try {
      whole = this.assembler.accept(m);
    } catch (err) {
      this.acks.delete(m.publish_id);
      if (!(err instanceof WireError)) throw err;
      // A publish in progress that this piece broke, one refused at its first piece, or a stray piece of a
      // publish never seen: its later pieces get no answer (unless it was all in one refused piece).
      if (!first || m.byte_offset !== 0 || m.payload.length < m.total_len) this.refused.add(m.publish_id);
      // The publish this piece breaks is refused, naming its request (from its first piece): publish_error
      // when it was acked, error otherwise. A publish whose first piece named no request is refused naming
      // this piece's, when this piece asks for an ack.
      const what = `publish_chunk ${m.publish_id} refused: ${err.message.slice(0, 80)}`;
      const requestId = pending.requestId ?? m.request_id;
      const acked = pending.requestId !== undefined ? pending.acked : ownAck;
      const expected = refused(requestId, acked, what);
      return expected;
    }
    if (whole === undefined) {
      if (first) this.acks.set(m.publish_id, pending);
      return {
        need: 'none',
        types: ERROR,
        requestId: undefined,
        what: `publish_chunk ${m.publish_id} piece`,
      };
    }
    this.acks.delete(m.publish_id);
    return publish(whole, tenant, whole.stream, false, `publish_chunk ${m.publish_id} complete`);
  }
}

/**
 * A publish (JSON, MessagePack or binary batch): refused for another tenant or a bad name, otherwise
 * acked when it asks for an ack, and answered with nothing at all when it does not.
 */
function publish(
  m: { tenant_id: string; namespace: string; request_id?: number; ack?: string },
  tenant: string,
  stream: string,
  binary: boolean,
  what: string,
): RequestExpectation {
  const acked = m.request_id !== undefined && m.ack !== undefined && m.ack !== 'none';
  const requestId = acked ? m.request_id : undefined;
  // Refused: an acked publish with publish_error, an unacked one with an error naming its request_id.
  const refusal = addressRefusal(m, tenant, stream, m.request_id, acked, what, binary);
  if (refusal !== undefined) return refusal;
  if (!acked) return { need: 'none', types: ERROR, requestId: undefined, what: `unacked ${what}` };
  return { need: 'one', types: new Set(['publish_ok', 'publish_error']), requestId, binary, what };
}

/**
 * The refusal the contract names for an address the stream may not use: another tenant (forbidden) or
 * a name breaking the name rules on auto-create (invalid_request). Tenant first, as the broker checks.
 */
function addressRefusal(
  m: { tenant_id: string; namespace: string },
  tenant: string,
  name: string,
  requestId: number | undefined,
  ackedPublish: boolean,
  what: string,
  binary = false,
): RequestExpectation | undefined {
  let code: string;
  if (m.tenant_id !== tenant) code = 'forbidden';
  else if (!isValidName(m.tenant_id) || !isValidName(m.namespace) || !isValidName(name))
    code = 'invalid_request';
  else return undefined;
  return {
    need: 'one',
    types: ackedPublish && requestId !== undefined ? new Set(['publish_error']) : ERROR,
    code,
    requestId,
    binary: binary && ackedPublish && requestId !== undefined,
    what: `${what} refused (${code})`,
  };
}

function refused(
  requestId: number | undefined,
  publish: boolean,
  what: string,
  binary = false,
): RequestExpectation {
  return {
    need: 'one',
    types: publish && requestId !== undefined ? new Set(['publish_error']) : ERROR,
    code: 'invalid_request',
    requestId,
    binary: binary && requestId !== undefined,
    what,
  };
}

function decodeFailure(
  err: unknown,
  what: string,
  binary: boolean,
  raw: { flags: number; payload: Buffer } | null = null,
): RequestExpectation {
  if (!(err instanceof WireError)) {
    // The decoder itself broke: the broker meets the same exception; its internal-error count says so.
    return {
      need: 'optional',
      types: ERROR_OR_PUBLISH_ERROR,
      requestId: 'any',
      what: `${what}: decoder threw ${String(err)}`,
    };
  }
  // The contract: publish_error for an acked publish whose request_id could be read, error naming the
  // request_id for anything else whose id could be read. A binary 0x09 batch is acked by its layout.
  const publish = binary || (isPublish(err.messageType) && ackedAsWritten(raw));
  const expected = refused(
    err.requestId,
    publish,
    `${what}: ${err.code} ${err.message.slice(0, 120)}`,
    binary,
  );
  return expected;
}

/**
 * Whether a JSON or MessagePack payload holds a string (a key included) that is not well-formed Unicode,
 * judged independently of wire/'s decoders: JSON is parsed and its strings asked isWellFormed(); MessagePack
 * is decoded leniently (bad bytes become U+FFFD) and a string holding U+FFFD whose UTF-8 is not in the
 * payload as such was made from bytes that are not UTF-8.
 */
function holdsIllFormedText(flags: number, payload: Buffer): boolean {
  let parsed: unknown;
  try {
    parsed =
      flags === FLAG_MSGPACK
        ? rawMsgpack.unpack(payload)
        : JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch {
    return false;
  }
  const wellFormed = (text: string): boolean =>
    flags === FLAG_MSGPACK
      ? !text.includes('\ufffd') || payload.includes(Buffer.from(text, 'utf8'))
      : text.isWellFormed();
  const pending: unknown[] = [parsed];
  while (pending.length > 0) {
    const next = pending.pop();
    if (typeof next === 'string') {
      if (!wellFormed(next)) return true;
    } else if (Array.isArray(next)) {
      for (const item of next) pending.push(item);
    } else if (typeof next === 'object' && next !== null && !ArrayBuffer.isView(next)) {
      for (const [key, value] of Object.entries(next)) {
        if (!wellFormed(key)) return true;
        pending.push(value);
      }
    }
  }
  return false;
}

const rawMsgpack = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

/** The first MessagePack value of `payload`, whatever follows it (a message refused for trailing bytes still names its request). */
function firstMsgpackValue(payload: Buffer): unknown {
  let first: unknown;
  rawMsgpack.unpackMultiple(payload, (value: unknown) => {
    first = value;
    return false;
  });
  return first;
}

/** Whether the message, as far as it parses at all, asked for an ack (ack per_message or per_batch). */
function ackedAsWritten(raw: { flags: number; payload: Buffer } | null): boolean {
  if (raw === null) return false;
  let parsed: unknown;
  try {
    parsed =
      raw.flags === FLAG_MSGPACK
        ? firstMsgpackValue(raw.payload)
        : JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw.payload));
  } catch {
    return false;
  }
  if (typeof parsed !== 'object' || parsed === null || !Object.hasOwn(parsed, 'ack')) return false;
  const ack = (parsed as { ack: unknown }).ack;
  return ack === 'per_message' || ack === 'per_batch';
}

function isPublish(type: string | undefined): boolean {
  return type === 'publish' || type === 'publish_batch' || type === 'publish_chunk';
}

// --- matching --------------------------------------------------------------------------------------

const RETRY_CLASSES = new Set(['retry', 'retry_after', 'redirect', 'outcome_unknown', 'fatal']);

export interface MatchContext {
  /** The client took error codes (FEATURE_ERROR_CODES): every error carries one, else none does. */
  readonly errorCodes: boolean;
  /** Replies are MessagePack (both offered 0x40). */
  readonly msgpack: boolean;
}

/** Why `answer` cannot be the answer `expected` asks for, or null when it can. */
export function mismatch(expected: ExpectedAnswer, answer: Answer, context: MatchContext): string | null {
  if (answer.frame === null) return `undecodable answer: ${answer.undecodable}`;
  const frame = answer.frame;
  const type = frame.type;
  if (!expected.types.has(type)) return `answer ${type}, expected ${[...expected.types].join('|')}`;
  // The binary ack (0x10) answers binary acked batches; it has no room for a code, so a client that takes
  // codes gets a refusal as a message. auth_ok (or a pre-negotiation client's ok) is JSON whatever was offered.
  const binaryAck = answer.flags === 0x10;
  const wantBinary = expected.binary === true && (type === 'publish_ok' || !context.errorCodes);
  const flags = expected.what === 'auth' ? 0 : wantBinary ? 0x10 : context.msgpack ? FLAG_MSGPACK : 0;
  if (answer.flags !== flags) {
    const negotiated = context.msgpack ? 'MessagePack' : 'JSON';
    return `${type} with flags 0x${answer.flags.toString(16)}, expected 0x${flags.toString(16)} (replies: ${negotiated})`;
  }
  if (type === 'error' || type === 'publish_error') {
    const code = (frame as { code?: string }).code;
    if (binaryAck) {
      if (context.errorCodes) return 'binary publish ack without a code to a client that takes codes';
    } else if (context.errorCodes !== (code !== undefined)) {
      return context.errorCodes
        ? `${type} without a code`
        : `${type} with code ${code} to a client that did not offer ERROR_CODES`;
    }
    if (expected.code !== undefined && code !== undefined && code !== expected.code)
      return `code ${code}, expected ${expected.code}`;
    // Every code travels with a class saying whether sending the request again is safe.
    const retry = (frame as { retry?: string }).retry;
    if (code !== undefined && !RETRY_CLASSES.has(retry ?? ''))
      return `${type} with code ${code} and retry class ${retry}`;
    if (code === undefined && retry !== undefined) return `${type} with a retry class and no code`;
  }
  if (
    expected.requestId !== 'any' &&
    type !== 'subscribed' &&
    type !== 'subscribe_cursor_error' &&
    type !== 'ok'
  ) {
    const id = (frame as { request_id?: number }).request_id;
    if (id !== expected.requestId) return `request_id ${id}, expected ${expected.requestId}`;
  }
  return null;
}

/**
 * Matches the answers in order against the expected ones (an optional one may take none); returns null
 * when they fit, else the best explanation of where they stop fitting.
 */
export function matchAnswers(
  expected: readonly ExpectedAnswer[],
  answers: readonly Answer[],
  context: MatchContext,
): string | null {
  // Memoised search over (expected index, answer index): optional entries branch, and cases are short.
  const failed = new Set<number>();
  let deepest = { e: -1, a: -1, why: '' };
  const key = (e: number, a: number): number => e * 100_003 + a;
  const fits = (e: number, a: number): boolean => {
    if (e === expected.length) {
      if (a === answers.length) return true;
      if (e > deepest.e || (e === deepest.e && a > deepest.a))
        deepest = { e, a, why: `${answers.length - a} answer(s) more than the frames ask for` };
      return false;
    }
    if (failed.has(key(e, a))) return false;
    const x = expected[e]!;
    const note = (why: string): void => {
      if (e > deepest.e || (e === deepest.e && a >= deepest.a))
        deepest = { e, a, why: `frame #${e} (${x.what}) at byte ${x.start}: ${why}` };
    };
    if (x.need !== 'none') {
      if (a < answers.length) {
        const why = mismatch(x, answers[a]!, context);
        if (why === null) {
          if (fits(e + 1, a + 1)) return true;
        } else note(why);
      } else if (x.need === 'one') note('got no answer');
    }
    if (x.need !== 'one' && fits(e + 1, a)) return true;
    failed.add(key(e, a));
    return false;
  };
  return fits(0, 0) ? null : deepest.why;
}
