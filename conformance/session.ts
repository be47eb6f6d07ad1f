import {
  FEATURE_CACHE_DELETE,
  FEATURE_DRAINING,
  FEATURE_ERROR_CODES,
  FEATURE_IDEMPOTENT_PUBLISH,
  FEATURE_PUBLISH_CHUNK,
  FEATURE_TOPOLOGY,
  FLAG_MSGPACK,
  type AckMode,
  type ErrorCode,
  type Message,
  type MessageOf,
  type MessageType,
  type StartPosition,
} from '../wire/index.js';
import { describeFrame, hex } from './describe.js';
import { CheckFailure, during, expectThat } from './failure.js';
import type { FrameStream, ReceivedFrame } from './frame-stream.js';
import type { BrokerLink } from './link.js';

/**
 * The flags the kit offers unless a check offers something else: every Felix flag and no extension,
 * so replies are JSON and events shared binary batches with offsets.
 */
export const DEFAULT_OFFER = 0x3f;
/** Every feature the protocol defines, ERROR_CODES included, so error replies carry codes. */
export const ALL_FEATURES =
  (FEATURE_TOPOLOGY |
    FEATURE_CACHE_DELETE |
    FEATURE_ERROR_CODES |
    FEATURE_PUBLISH_CHUNK |
    FEATURE_IDEMPOTENT_PUBLISH |
    FEATURE_DRAINING) >>>
  0;
/** Felix's assumption about a peer that did not negotiate. */
export const DEFAULT_FLAGS_WITHOUT_OFFER = 0x07;

/** What a stream's `auth` offers. */
export interface AuthOffer {
  /** `client_flags`; null leaves the field out (a client from before negotiation). Default DEFAULT_OFFER. */
  readonly flags?: number | null;
  /** `client_features`; null leaves the field out. Default ALL_FEATURES. */
  readonly features?: number | null;
  /** Default: the kit's --tenant. */
  readonly tenant?: string;
}

export interface Subscribed {
  readonly id: number;
  readonly events: FrameStream;
  /** Flags of the event_stream_hello frame. */
  readonly helloFlags: number;
}

/**
 * A client stream after a successful `auth`: knows what was negotiated, numbers its requests, and reads
 * the broker's answers in order (the broker answers a stream's requests in the order they arrived).
 */
export class AuthedStream {
  private requestIds = 1;

  constructor(
    readonly link: BrokerLink,
    readonly fs: FrameStream,
    readonly tenant: string,
    /** The auth answer: auth_ok, or ok to an auth without client_flags. */
    readonly authReply: MessageOf<'auth_ok'> | MessageOf<'ok'>,
    /** What this stream may receive: the offer & server_flags (0x07 & server_flags without an offer). */
    readonly negotiated: number,
    /** The client offered ERROR_CODES: errors carry `code`. */
    readonly errorCodes: boolean,
  ) {}

  get msgpack(): boolean {
    return (this.negotiated & FLAG_MSGPACK) !== 0;
  }

  nextRequestId(): number {
    return this.requestIds++;
  }

  /** Sends a request, as MessagePack when `msgpack` is set (the broker reads both on any stream). */
  send(message: Message, msgpack = false): void {
    this.fs.send(message, { msgpack });
  }

  /** The next frame, which must decode to a message. */
  async answer(what: string): Promise<{ frame: ReceivedFrame; message: Message }> {
    const frame = await this.fs.next(what);
    const m = frame.message;
    if (m === null || m.type === 'binary_event_batch')
      throw new CheckFailure(`expected ${what}, got ${describeFrame(frame)}`);
    return { frame, message: m };
  }

  /** The next frame, which must be a message of `type`, in the encoding this stream negotiated. */
  async expect<T extends MessageType>(type: T, what: string): Promise<MessageOf<T>> {
    const { frame, message } = await this.answer(what);
    if (message.type !== type)
      throw new CheckFailure(`expected ${what} (${type}), got ${describeFrame(frame)}`);
    this.checkReplyEncoding(frame, what);
    return message as MessageOf<T>;
  }

  /**
   * The next frame must be an error reply: `type` error or publish_error, with `code` when this stream
   * offered ERROR_CODES (and none otherwise), and `requestId` exactly (undefined: the reply names none).
   */
  async expectError(
    what: string,
    expected: { type?: 'error' | 'publish_error'; code: ErrorCode; requestId?: number },
  ): Promise<Message> {
    const type = expected.type ?? 'error';
    const { frame, message } = await this.answer(`${type} ${expected.code} for ${what}`);
    const seen = describeFrame(frame);
    if (message.type !== type)
      throw new CheckFailure(`expected ${type} (${expected.code}) for ${what}, got ${seen}`);
    const m = message as MessageOf<'error'> | MessageOf<'publish_error'>;
    if (this.errorCodes)
      expectThat(m.code === expected.code, `expected code ${expected.code} for ${what}, got ${seen}`);
    else expectThat(m.code === undefined, `code sent to a client that did not offer ERROR_CODES: ${seen}`);
    expectThat(
      m.request_id === expected.requestId,
      expected.requestId === undefined
        ? `expected no request_id for ${what} (it could not be read), got ${seen}`
        : `expected request_id ${expected.requestId} for ${what}, got ${seen}`,
    );
    if (frame.flags !== 0x10) this.checkReplyEncoding(frame, what);
    return message;
  }

  /** A publish (JSON) answered by publish_ok for its request id. */
  async publish(
    stream: string,
    payloads: readonly string[],
    options: { ack?: AckMode; namespace?: string } = {},
  ): Promise<void> {
    const requestId = this.nextRequestId();
    this.send({
      type: 'publish_batch',
      tenant_id: this.tenant,
      namespace: options.namespace ?? NAMESPACE,
      stream,
      payloads: payloads.map((p) => Buffer.from(p)),
      request_id: requestId,
      ack: options.ack ?? 'per_batch',
    });
    const ok = await this.expect('publish_ok', `publish_ok for request ${requestId}`);
    expectThat(ok.request_id === requestId, `publish_ok names request ${ok.request_id}, sent ${requestId}`);
  }

  /** Subscribes and waits for `subscribed` and the event stream's hello. */
  async subscribe(
    stream: string,
    options: { start?: StartPosition; subscriptionId?: number } = {},
  ): Promise<Subscribed> {
    const request: MessageOf<'subscribe'> = {
      type: 'subscribe',
      tenant_id: this.tenant,
      namespace: NAMESPACE,
      stream,
    };
    if (options.subscriptionId !== undefined) request.subscription_id = options.subscriptionId;
    if (options.start !== undefined) request.start = options.start;
    this.send(request);
    const subscribed = await this.expect('subscribed', `subscribed for ${stream}`);
    if (options.subscriptionId !== undefined)
      expectThat(
        subscribed.subscription_id === options.subscriptionId,
        `subscribed names ${subscribed.subscription_id}, asked for ${options.subscriptionId}`,
      );
    const { events, helloFlags } = await this.link.eventStream(subscribed.subscription_id);
    return { id: subscribed.subscription_id, events, helloFlags };
  }

  /** Replies after auth_ok are MessagePack exactly when MSGPACK was negotiated. */
  private checkReplyEncoding(frame: ReceivedFrame, what: string): void {
    const want = this.msgpack ? FLAG_MSGPACK : 0;
    expectThat(
      frame.flags === want,
      `${what} came with flags ${hex(frame.flags)}; negotiated ${hex(this.negotiated)} means ${hex(want)}`,
    );
  }
}

/** The namespace every check uses; stream and cache names are unique per check and run. */
export const NAMESPACE = 'conformance';

/** Authenticates `fs` and checks the answer's shape. */
export async function authenticate(
  link: BrokerLink,
  fs: FrameStream,
  tenant: string,
  token: string,
  offer: AuthOffer = {},
): Promise<AuthedStream> {
  const flags = offer.flags === undefined ? DEFAULT_OFFER : offer.flags;
  const features = offer.features === undefined ? ALL_FEATURES : offer.features;
  const auth: MessageOf<'auth'> = { type: 'auth', tenant_id: tenant, token };
  if (flags !== null) auth.client_flags = flags;
  if (features !== null) auth.client_features = features;
  fs.send(auth);
  return during('auth', async () => {
    const frame = await fs.next(flags === null ? 'ok answering auth' : 'auth_ok answering auth');
    const reply = frame.message;
    expectThat(frame.flags === 0, `the auth answer must be JSON, got ${describeFrame(frame)}`);
    if (flags === null) {
      expectThat(
        reply?.type === 'ok',
        `an auth without client_flags expects ok, got ${describeFrame(frame)}`,
      );
      return new AuthedStream(
        link,
        fs,
        tenant,
        reply,
        DEFAULT_FLAGS_WITHOUT_OFFER,
        features !== null && (features & FEATURE_ERROR_CODES) !== 0,
      );
    }
    if (reply?.type !== 'auth_ok') throw new CheckFailure(`expected auth_ok, got ${describeFrame(frame)}`);
    return new AuthedStream(
      link,
      fs,
      tenant,
      reply,
      flags & reply.server_flags,
      features !== null && (features & FEATURE_ERROR_CODES) !== 0,
    );
  });
}
