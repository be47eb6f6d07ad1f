import {
  ConnectionClosedError,
  Endpoint,
  type ClientEndpointOptions,
  type ClientTlsOptions,
  type CloseInfo,
  type Connection,
  type TransportSettings,
} from '../transport/index.js';
import { CheckFailure } from './failure.js';
import { FrameStream, type StreamHost } from './frame-stream.js';
import { Signal } from './signal.js';

/** Where the broker is and how to trust it. */
export interface BrokerTarget {
  readonly host: string;
  readonly port: number;
  readonly tls: ClientTlsOptions;
  /** Bound on every single expectation (a handshake, a frame, a reset). */
  readonly timeoutMs: number;
}

/**
 * One QUIC connection to the broker (ALPN `felix`): opens streams, and collects the streams the broker
 * opens (event streams), each bound to its subscription by the `event_stream_hello` that starts it.
 */
export class BrokerLink implements StreamHost {
  readonly changes = new Signal();
  /** Streams the broker opened, in the order they arrived. */
  readonly incoming: FrameStream[] = [];
  closeInfo: CloseInfo | null = null;

  private constructor(
    private readonly endpoint: Endpoint,
    readonly connection: Connection,
    readonly target: BrokerTarget,
  ) {
    connection.onStream = (stream) => {
      this.incoming.push(new FrameStream(stream, this, target.timeoutMs));
      this.changes.notify();
    };
    connection.onClose = (info) => {
      this.closeInfo = info;
      this.changes.notify();
    };
  }

  /**
   * Connects; rejects with the transport's error when the handshake fails. `alpn` (transport's
   * EndpointOptions.alpn) replaces `felix` in the offer, for the ALPN check only; `settings` change what
   * this client grants the broker (how many event streams, for the checks of that limit).
   */
  static async open(
    target: BrokerTarget,
    choices: { alpn?: string; settings?: Partial<TransportSettings> } = {},
  ): Promise<BrokerLink> {
    const options: ClientEndpointOptions & { alpn?: string } = {
      host: target.host,
      port: target.port,
      tls: target.tls,
      ...(choices.settings === undefined ? {} : { settings: choices.settings }),
    };
    if (choices.alpn !== undefined) options.alpn = choices.alpn;
    const endpoint = await Endpoint.client(options);
    try {
      const connection = await endpoint.connect({ timeoutMs: target.timeoutMs });
      return new BrokerLink(endpoint, connection, target);
    } catch (err) {
      await endpoint.close({ timeoutMs: 100 });
      throw err;
    }
  }

  closedReason(): string | null {
    const info = this.closeInfo;
    if (info === null) return null;
    const who = info.byPeer ? 'the broker' : 'this side';
    const kind = info.isApp ? 'application' : 'transport';
    return `${who} closed the connection (${kind} code 0x${info.code.toString(16)}: ${info.reason})`;
  }

  /** A new client-opened bidirectional stream. */
  openStream(): FrameStream {
    this.assertOpen();
    return new FrameStream(this.connection.openStream(true), this, this.target.timeoutMs);
  }

  /** A new client-opened unidirectional stream (the broker refuses these; for that check). */
  openUniStream(): FrameStream {
    this.assertOpen();
    return new FrameStream(this.connection.openStream(false), this, this.target.timeoutMs);
  }

  /**
   * The broker-opened stream whose first frame is `event_stream_hello` for `subscriptionId`, positioned
   * after the hello, and the hello's flags (its encoding is part of what is checked).
   */
  async eventStream(subscriptionId: number): Promise<{ events: FrameStream; helloFlags: number }> {
    let found: FrameStream | undefined;
    await this.changes.until(
      () => (found = this.incoming.find((s) => helloOf(s) === subscriptionId)) !== undefined,
      `event stream for subscription ${subscriptionId} (an event_stream_hello naming it)`,
      this.target.timeoutMs,
      () => this.closedReason(),
    );
    const events = found!;
    events.skip(1);
    return { events, helloFlags: events.frames[0]!.flags };
  }

  async close(): Promise<void> {
    if (this.closeInfo === null) this.connection.close(0, 'conformance check done');
    await this.endpoint.close({ timeoutMs: 200 });
  }

  private assertOpen(): void {
    const reason = this.closedReason();
    if (reason !== null) throw new CheckFailure(`cannot open a stream: ${reason}`);
  }
}

function helloOf(stream: FrameStream): number | undefined {
  const first = stream.frames[0]?.message;
  return first !== undefined && first !== null && first.type === 'event_stream_hello'
    ? first.subscription_id
    : undefined;
}

/** A connect failure as a check's one-line reason. */
export function describeConnectFailure(err: unknown): string {
  if (err instanceof ConnectionClosedError) {
    const i = err.info;
    return `handshake failed: ${i.isApp ? 'application' : 'transport'} code 0x${i.code.toString(16)} (${i.reason})`;
  }
  return `cannot connect: ${(err as Error).message}`;
}
