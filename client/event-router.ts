/**
 * One per event connection: binds the unidirectional event streams the broker opens to the subscriptions
 * they serve. A subscription registers its id before its `subscribe` is sent, so the stream's first frame,
 * `event_stream_hello`, finds it whether it overtakes `subscribed` or not, and events that follow the
 * hello in the same read go straight to it.
 *
 * FELIX_EVENT_ROUTER_MAX_PENDING bounds both tables that a misbehaving peer could grow: registrations
 * still waiting for their stream (a new subscribe beyond it fails with `limit_exceeded`), and streams
 * whose hello has not arrived yet (a new one beyond it is refused with STOP_SENDING).
 */
import type { Connection, Stream } from '../transport/index.js';
import {
  FrameDecoder,
  STREAM_CODE_CLIENT_GONE,
  STREAM_CODE_CLIENT_PROTOCOL_ERROR,
  decodeFramePayload,
  type WireError,
} from '../wire/index.js';
import type { ConnectionTenant } from './connection-pool.js';
import { FULL_FRAME_AFTER } from './decoding.js';
import { FelixError } from './errors.js';

/** What receives one event stream: a subscription. */
export interface EventStreamSink {
  /** The stream is bound (its hello arrived); the sink may pause/resume or stop it. */
  attachEventStream(stream: Stream): void;
  /** An event frame; `payload` is valid only during the call. */
  onEventFrame(flags: number, payload: Uint8Array, owned: boolean): void;
  /** The stream ended: FIN (null), RESET_STREAM (its code), or undecodable (an error). */
  onEventStreamEnd(ending: number | FelixError | null): void;
  onConnectionClosed(error: FelixError): void;
}

export interface EventRouterOptions {
  readonly maxFrameBytes: number;
  readonly maxPending: number;
  readonly onWarning: (message: string) => void;
  /** Names the connection in messages. */
  readonly label: string;
}

class EventStreamReader {
  sink: EventStreamSink | null = null;
  readonly decoder: FrameDecoder;

  constructor(
    readonly stream: Stream,
    private readonly router: EventRouter,
    maxFrameBytes: number,
  ) {
    this.decoder = new FrameDecoder(
      {
        onFrame: (flags, payload, owned) => this.onFrame(flags, payload, owned),
        onError: (error) => this.onWireError(error),
      },
      { maxFrameBytes, fullFrameAfter: FULL_FRAME_AFTER },
    );
  }

  onFrame(flags: number, payload: Uint8Array, owned: boolean): void {
    const sink = this.sink;
    if (sink !== null) sink.onEventFrame(flags, payload, owned);
    else this.router.onHello(this, flags, payload);
  }

  private onWireError(error: WireError): void {
    if (!error.fatal) {
      this.router.warn(`skipped an event frame: ${error.message}`);
      return;
    }
    this.stream.stop(STREAM_CODE_CLIENT_PROTOCOL_ERROR);
    this.router.streamDone(
      this,
      new FelixError('protocol_error', `event stream unreadable: ${error.message}`),
    );
  }
}

export class EventRouter implements ConnectionTenant {
  private readonly waiting = new Map<number, EventStreamSink>();
  private readonly bound = new Map<number, EventStreamSink>();
  private readonly unbound = new Set<EventStreamReader>();
  private subscriptionIds = 0;

  constructor(
    readonly connection: Connection,
    private readonly options: EventRouterOptions,
  ) {
    connection.onStream = (stream) => this.onStream(stream);
  }

  /** Subscriptions registered on this connection (waiting for their stream or bound). */
  get subscriptions(): number {
    return this.waiting.size + this.bound.size;
  }

  /** A subscription id unique on this connection. */
  nextSubscriptionId(): number {
    return ++this.subscriptionIds;
  }

  /** Registers `sink` for `id` before its subscribe is sent. Throws `limit_exceeded` beyond the bound. */
  register(id: number, sink: EventStreamSink): void {
    if (this.waiting.size >= this.options.maxPending) {
      throw new FelixError(
        'limit_exceeded',
        `${this.options.label}: ${this.waiting.size} subscriptions already wait for their event stream ` +
          '(FELIX_EVENT_ROUTER_MAX_PENDING)',
      );
    }
    this.waiting.set(id, sink);
  }

  /** Forgets `id`; a stream arriving for it later is refused. */
  unregister(id: number): void {
    this.waiting.delete(id);
    this.bound.delete(id);
  }

  onConnectionClosed(error: FelixError): void {
    const sinks = [...this.waiting.values(), ...this.bound.values()];
    this.waiting.clear();
    this.bound.clear();
    this.unbound.clear();
    for (const sink of sinks) sink.onConnectionClosed(error);
  }

  /** @internal the first frame of a stream not bound yet */
  onHello(reader: EventStreamReader, flags: number, payload: Uint8Array): void {
    let id: number | undefined;
    try {
      const hello = decodeFramePayload(flags, payload);
      if (hello.type === 'event_stream_hello') id = hello.subscription_id;
    } catch {
      // handled below as a stream that does not start with a hello
    }
    this.unbound.delete(reader);
    const sink = id === undefined ? undefined : this.waiting.get(id);
    if (id === undefined || sink === undefined) {
      // Not a hello, or one for a subscription that already ended (unsubscribed before its stream came).
      if (id === undefined) this.warn('an event stream did not start with event_stream_hello');
      this.refuse(reader.stream);
      reader.stream.onData = null;
      return;
    }
    this.waiting.delete(id);
    this.bound.set(id, sink);
    reader.sink = sink;
    sink.attachEventStream(reader.stream);
  }

  /** @internal */
  streamDone(reader: EventStreamReader, ending: number | FelixError | null): void {
    this.unbound.delete(reader);
    reader.sink?.onEventStreamEnd(ending);
    reader.sink = null;
  }

  /** @internal */
  warn(message: string): void {
    this.options.onWarning(`${this.options.label}: ${message}`);
  }

  private onStream(stream: Stream): void {
    if (stream.bidirectional) {
      // The broker opens only unidirectional event streams towards clients.
      this.refuse(stream);
      return;
    }
    if (this.unbound.size >= this.options.maxPending) {
      this.warn(`refused an event stream: ${this.unbound.size} streams already wait for their hello`);
      this.refuse(stream);
      return;
    }
    const reader = new EventStreamReader(stream, this, this.options.maxFrameBytes);
    this.unbound.add(reader);
    stream.onData = (chunk, fin) => {
      try {
        reader.decoder.push(chunk);
        if (fin) reader.decoder.end();
      } catch (error) {
        this.refuse(stream);
        this.streamDone(
          reader,
          new FelixError('protocol_error', `event stream failed: ${(error as Error).message}`),
        );
        return;
      }
      if (fin) this.streamDone(reader, null);
    };
    stream.onReset = (code) => this.streamDone(reader, code);
  }

  private refuse(stream: Stream): void {
    stream.stop(STREAM_CODE_CLIENT_GONE);
    if (stream.writable) stream.reset(STREAM_CODE_CLIENT_GONE);
  }
}
