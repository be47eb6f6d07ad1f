/**
 * The answers of one client stream, in the encoding its auth negotiated: MessagePack or JSON messages, and
 * `code` and `retry` on errors only for a client that offered ERROR_CODES (as Felix does). Everything goes through the
 * stream's AnswerWriter, so the answers to one read share a write.
 */
import {
  defaultRetryClass,
  encodeBinaryPublishAck,
  encodeMessage,
  type ErrorCode,
  type MessageOf,
  type Message,
  type PublishErrorMessage,
  type TypedErrorFields,
  type WireError,
} from '../../wire/index.js';
import {
  cacheOkFrameBytes,
  cacheValueFrameBytes,
  measureAddress,
  writeCacheOkFrame,
  writeCacheValueFrame,
  type AddressLengths,
} from '../../wire/cache-frames.js';
import type { CacheRequest, ErrorSite, ReplyTarget } from '../core/ports.js';
import type { AnswerWriter } from './answer-writer.js';
import type { ByteStream } from './stream-port.js';

/**
 * The code a frame the wire unit refused is answered with: a frame, reassembled publish or batch over a
 * size or count limit is `limit_exceeded`; anything else that does not decode, `invalid_request`.
 */
export function refusalCodeOf(error: WireError): ErrorCode {
  return error.code === 'frame_too_large' || error.code === 'too_many_payloads'
    ? 'limit_exceeded'
    : 'invalid_request';
}

/** How an acked publish is answered: the binary ack (0x10) for binary batches, messages otherwise. */
export type AckForm = 'binary' | 'message';

export class Replies implements ReplyTarget {
  /** Messages go as MessagePack (both sides offered 0x40). */
  msgpack = false;
  /** The client offered ERROR_CODES: errors carry `code` and `retry`. */
  errorCodes = false;
  private readonly addressLengths: AddressLengths = { tenant: 0, namespace: 0, cache: 0, key: 0 };

  constructor(
    private readonly stream: ByteStream,
    private readonly answers: AnswerWriter,
  ) {}

  send(message: Message): void {
    if (this.stream.writable) this.answers.append(encodeMessage(message, { msgpack: this.msgpack }));
  }

  sendError(message: string, code: ErrorCode, requestId?: number, site?: ErrorSite): void {
    const reply: MessageOf<'error'> = { type: 'error', message: wellFormed(message) };
    if (this.errorCodes) typeError(reply, code, site);
    if (requestId !== undefined) reply.request_id = requestId;
    this.send(reply);
  }

  /** See AnswerWriter.answerAfterDeliveries. */
  afterDeliveries(): void {
    this.answers.answerAfterDeliveries();
  }

  publishOk(requestId: number, form: AckForm): void {
    if (!this.stream.writable) return;
    const ok: Message = { type: 'publish_ok', request_id: requestId };
    this.answers.append(
      form === 'binary' ? encodeBinaryPublishAck(ok) : encodeMessage(ok, { msgpack: this.msgpack }),
    );
  }

  publishError(requestId: number, message: string, code: ErrorCode, form: AckForm, site?: ErrorSite): void {
    if (!this.stream.writable) return;
    const err: PublishErrorMessage = {
      type: 'publish_error',
      request_id: requestId,
      message: wellFormed(message),
    };
    if (this.errorCodes) typeError(err, code, site);
    // The binary ack has no room for a code: a client that takes codes gets the message form instead.
    const binary = form === 'binary' && !this.errorCodes;
    this.answers.append(binary ? encodeBinaryPublishAck(err) : encodeMessage(err, { msgpack: this.msgpack }));
  }

  sendCacheValue(request: CacheRequest, value: Uint8Array | null): void {
    if (!this.msgpack) {
      const reply: Message = {
        type: 'cache_value',
        tenant_id: request.tenant_id,
        namespace: request.namespace,
        cache: request.cache,
        key: request.key,
        value,
      };
      if (request.request_id !== undefined) reply.request_id = request.request_id;
      this.send(reply);
      return;
    }
    if (!this.stream.writable) return;
    const lengths = this.addressLengths;
    measureAddress(request, lengths);
    const answers = this.answers;
    const at = answers.reserve(cacheValueFrameBytes(lengths, value, request.request_id));
    answers.commit(writeCacheValueFrame(answers.buffer, at, request, lengths, value));
  }

  sendCacheOk(requestId: number | undefined): void {
    if (requestId === undefined) this.send({ type: 'ok' });
    else if (!this.msgpack) this.send({ type: 'cache_ok', request_id: requestId });
    else if (this.stream.writable) {
      const answers = this.answers;
      const at = answers.reserve(cacheOkFrameBytes(requestId));
      answers.commit(writeCacheOkFrame(answers.buffer, at, requestId));
    }
  }
}

/**
 * An error's text with any lone surrogate made U+FFFD. The text can quote a peer's bytes (JSON.parse's
 * message cuts the input around the fault, and can cut a surrogate pair in half), and the protocol refuses a
 * string that is not well-formed: sent as is, the answer to a bad frame would itself be undecodable.
 */
function wellFormed(text: string): string {
  return text.isWellFormed() ? text : text.toWellFormed();
}

/** `code` and its retry class (the site's, else the code's default) and the site's `detail` on an error. */
function typeError(err: TypedErrorFields, code: ErrorCode, site: ErrorSite | undefined): void {
  err.code = code;
  err.retry = site?.retry ?? defaultRetryClass(code);
  if (site?.detail !== undefined) err.detail = site.detail;
}
