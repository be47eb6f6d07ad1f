/**
 * A client-opened bidirectional stream to the broker: `auth` first, then frames in both directions. One
 * FrameDecoder per stream; incoming frames reach the owner synchronously, as views valid only during the
 * call. Publish workers, cache workers and subscription control streams are all built on it.
 */
import type { Stream } from '../transport/index.js';
import {
  FrameDecoder,
  STREAM_CODE_CLIENT_GONE,
  STREAM_CODE_CLIENT_PROTOCOL_ERROR,
  decodeFramePayload,
  encodeJsonMessage,
  encodeMessage,
  type Message,
  type WireError,
} from '../wire/index.js';
import { FULL_FRAME_AFTER } from './decoding.js';
import { FelixError, brokerError } from './errors.js';
import { authMessage, negotiate, offeredFlags, type Negotiated } from './negotiation.js';
import type { TokenSource } from './options.js';

export interface BrokerStreamHandler {
  /** A frame after auth. `payload` is valid only during the call. */
  onFrame(flags: number, payload: Uint8Array): void;
  /** The broker finished its side (error null) or the stream failed. Called once, after auth succeeded. */
  onEnd(error: FelixError | null): void;
  /** The transport can take more after write() returned false. */
  onDrain(): void;
}

export interface BrokerStreamOptions {
  readonly maxFrameBytes: number;
  readonly onWarning: (message: string) => void;
  /** Names the stream in messages ("publish stream 3"). */
  readonly label: string;
  /** Offer TIMINGS (false with FELIX_DISABLE_TIMINGS=1). */
  readonly timings?: boolean;
}

/**
 * The token each auth refusal answered, kept off the error itself (applications log errors): the pool
 * compares it to tell a repeated refusal of the same credentials from a refusal of a new token
 * (ConnectionPool.refused).
 */
const refusedTokens = new WeakMap<FelixError, string>();

/** The token the broker refused with `error`; undefined when `error` is no auth refusal of the broker's. */
export function refusedToken(error: FelixError): string | undefined {
  return refusedTokens.get(error);
}

interface AuthWaiter {
  resolve(negotiated: Negotiated): void;
  reject(error: FelixError): void;
}

export class BrokerStream {
  negotiated: Negotiated | null = null;
  private readonly decoder: FrameDecoder;
  private authWaiter: AuthWaiter | null = null;
  /** The token the pending auth presented. */
  private presented: string | null = null;
  private ended = false;

  constructor(
    readonly stream: Stream,
    private readonly handler: BrokerStreamHandler,
    private readonly options: BrokerStreamOptions,
  ) {
    this.decoder = new FrameDecoder(
      { onFrame: (flags, payload) => this.onFrame(flags, payload), onError: (e) => this.onWireError(e) },
      { maxFrameBytes: options.maxFrameBytes, fullFrameAfter: FULL_FRAME_AFTER },
    );
    stream.onData = (chunk, fin) => this.onData(chunk, fin);
    stream.onReset = (code) => this.fail(this.closedError(`reset by the broker (code ${code})`));
    stream.onStopSending = (code) =>
      this.fail(this.closedError(`the broker stopped reading it (code ${code})`));
    stream.onDrain = () => {
      if (!this.ended) handler.onDrain();
    };
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /**
   * Sends `auth` (always JSON: nothing is negotiated yet) and resolves with what the broker confirmed. A
   * token provider is asked first (a fresh token on every connect and reconnect). `pipelined`, if given,
   * is written right behind the `auth` (also JSON) instead of a round trip later: the broker reads it once
   * the auth is accepted, and never if it is refused (docs/protocol.md, Session).
   */
  async authenticate(tenant: string, token: TokenSource, pipelined?: Message): Promise<Negotiated> {
    let presented: string;
    try {
      presented = typeof token === 'string' ? token : await token();
    } catch (err) {
      throw new FelixError('auth_failed', `the token provider failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (typeof presented !== 'string') {
      throw new FelixError('auth_failed', 'the token provider returned no string');
    }
    this.presented = presented;
    return new Promise<Negotiated>((resolve, reject) => {
      this.authWaiter = { resolve, reject };
      if (!this.stream.writable) {
        reject(this.closedError('it closed before auth'));
        return;
      }
      this.stream.write(encodeJsonMessage(authMessage(tenant, presented, this.options.timings !== false)));
      if (pipelined !== undefined) this.stream.write(encodeJsonMessage(pipelined));
    });
  }

  /** A message in the negotiated encoding. */
  encode(message: Message): Buffer {
    return encodeMessage(message, { msgpack: this.negotiated?.msgpack === true });
  }

  /** Writes a whole frame; false means wait for onDrain (every byte is kept either way). */
  write(frame: Uint8Array): boolean {
    if (!this.stream.writable) {
      // The broker stopped reading or the connection closed: nothing written now would arrive.
      this.fail(this.closedError('it can no longer be written'));
      return false;
    }
    return this.stream.write(frame);
  }

  get writable(): boolean {
    return !this.ended && this.stream.writable;
  }

  /** Puts what was written so far on the wire now instead of at the transport's next flush. */
  sendNow(): void {
    if (this.stream.writable) this.stream.sendNow();
  }

  /** Finishes our side (FIN after everything written); the broker answers what it has and finishes its side. */
  end(): void {
    if (this.stream.writable) this.stream.end();
  }

  /** Abandons both directions at once and reports `error` to the owner. */
  abort(error: FelixError, code = STREAM_CODE_CLIENT_GONE): void {
    if (this.ended) return;
    this.fail(error);
    this.stream.reset(code);
    this.stream.stop(code);
  }

  /**
   * Its connection is gone and the owner carries on elsewhere: ends the stream without telling the owner
   * (no onEnd), failing only an auth still awaited. Idempotent.
   */
  abandon(error: FelixError): void {
    if (this.ended) return;
    this.ended = true;
    const waiter = this.authWaiter;
    this.authWaiter = null;
    waiter?.reject(error);
  }

  /** Ends the stream for its owner (e.g. its connection closed). Idempotent. */
  fail(error: FelixError): void {
    if (this.ended) return;
    this.ended = true;
    const waiter = this.authWaiter;
    if (waiter !== null) {
      this.authWaiter = null;
      waiter.reject(error);
      return;
    }
    this.handler.onEnd(error);
  }

  private onData(chunk: Uint8Array, fin: boolean): void {
    if (this.ended) return;
    try {
      this.decoder.push(chunk);
      if (fin) this.decoder.end();
    } catch (error) {
      // A handler bug or an undecodable reply: the stream cannot be trusted any more.
      this.abort(this.protocolError(`${(error as Error).message}`), STREAM_CODE_CLIENT_PROTOCOL_ERROR);
      return;
    }
    if (fin && !this.ended) {
      if (this.authWaiter !== null) {
        this.fail(this.closedError('the broker ended it before answering auth'));
        return;
      }
      this.ended = true;
      this.handler.onEnd(null);
    }
  }

  private onFrame(flags: number, payload: Uint8Array): void {
    if (this.ended) return;
    if (this.negotiated !== null) {
      this.handler.onFrame(flags, payload);
      return;
    }
    const reply = decodeFramePayload(flags, payload);
    const waiter = this.authWaiter;
    if (reply.type === 'auth_ok' || reply.type === 'ok') {
      this.negotiated = negotiate(reply, offeredFlags(this.options.timings !== false));
      this.authWaiter = null;
      this.presented = null;
      waiter?.resolve(this.negotiated);
    } else if (reply.type === 'error') {
      const refusal = brokerError('auth_failed', `the broker refused auth as this tenant`, reply);
      if (this.presented !== null) refusedTokens.set(refusal, this.presented);
      this.abort(refusal);
    } else {
      this.abort(
        this.protocolError(`expected auth_ok, got ${reply.type}`),
        STREAM_CODE_CLIENT_PROTOCOL_ERROR,
      );
    }
  }

  private onWireError(error: WireError): void {
    if (error.fatal) {
      this.abort(this.protocolError(error.message), STREAM_CODE_CLIENT_PROTOCOL_ERROR);
    } else {
      this.options.onWarning(`${this.options.label}: skipped a frame from the broker: ${error.message}`);
    }
  }

  private closedError(what: string): FelixError {
    return new FelixError('connection_closed', `${this.options.label}: ${what}`);
  }

  private protocolError(what: string): FelixError {
    return new FelixError('protocol_error', `${this.options.label}: ${what}`);
  }
}
