/**
 * Every failure the wire unit reports is a WireError with a machine-readable code, so callers branch on
 * `code` (reply with an error, skip a frame, or drop the stream) and never parse messages.
 */
export type WireErrorCode =
  /** The 4 magic bytes are not "FLX1": framing is lost, the stream cannot continue. */
  | 'bad_magic'
  /** A protocol version other than 1: framing is lost, the stream cannot continue. */
  | 'bad_version'
  /** A frame (or a reassembled chunked publish) larger than the configured maximum; it was skipped. */
  | 'frame_too_large'
  /** Flag bits this side does not understand; the frame was skipped. */
  | 'unknown_flags'
  /** Known flag bits in a combination that has no layout (e.g. 0x08 without 0x01, msgpack with 0x02). */
  | 'invalid_flags'
  /** A binary payload shorter than its own counts and lengths claim. */
  | 'truncated'
  /** A payload that does not parse, or a message whose fields have the wrong types or values. */
  | 'malformed'
  /** A well-formed message whose `type` this side does not know. */
  | 'unknown_type'
  /** A value that does not fit its field on encode (a name over 65535 bytes, a count over u32). */
  | 'field_too_long'
  /** A publish batch of more payloads than MAX_BATCH_PAYLOADS (refused before they are read). */
  | 'too_many_payloads'
  /** The stream ended in the middle of a frame. */
  | 'incomplete';

/** Codes after which the byte stream can no longer be split into frames. */
const FATAL_CODES: ReadonlySet<WireErrorCode> = new Set(['bad_magic', 'bad_version', 'incomplete']);

export interface WireErrorContext {
  /** Flags of the offending frame, when the header was readable. */
  flags?: number;
  /** Payload length the offending frame's header declared. */
  frameLength?: number;
  /** The request id of the offending request, when it could still be read, so the reply can name it. */
  requestId?: number;
  /** The offending message's `type`, when it could be read: the reply to a publish is a publish_error. */
  messageType?: string;
  /** The offending message asked for an ack (`ack` per_message or per_batch could be read). */
  ackRequested?: boolean;
}

export class WireError extends Error {
  override readonly name = 'WireError';
  readonly code: WireErrorCode;
  /** True when the stream that produced this error must be closed: no later frame can be found. */
  readonly fatal: boolean;
  readonly flags: number | undefined;
  readonly frameLength: number | undefined;
  readonly requestId: number | undefined;
  readonly messageType: string | undefined;
  readonly ackRequested: boolean;

  constructor(code: WireErrorCode, message: string, context: WireErrorContext = {}) {
    // Well-formed because the text can quote the bytes that were refused (JSON.parse's message cuts the
    // input around the fault, a surrogate pair possibly in half), and it goes back to the peer and to logs.
    super(message.toWellFormed());
    this.code = code;
    this.fatal = FATAL_CODES.has(code);
    this.flags = context.flags;
    this.frameLength = context.frameLength;
    this.requestId = context.requestId;
    this.messageType = context.messageType;
    this.ackRequested = context.ackRequested === true;
  }
}

export function isWireError(value: unknown): value is WireError {
  return value instanceof WireError;
}

/** A copy of `error` that names the request it belongs to (and what is known of it), where it did not. */
export function withRequestId(
  error: WireError,
  requestId: number | undefined,
  request: { messageType?: string; ackRequested?: boolean } = {},
): WireError {
  if ((requestId === undefined || error.requestId !== undefined) && request.messageType === undefined) {
    return error;
  }
  return new WireError(error.code, error.message, {
    flags: error.flags,
    frameLength: error.frameLength,
    requestId: error.requestId ?? requestId,
    messageType: error.messageType ?? request.messageType,
    ackRequested: error.ackRequested || request.ackRequested === true,
  });
}
