import { randomBytes } from 'node:crypto';
import { CheckFailure, during, expectThat } from './failure.js';
import type { TransportSettings } from '../transport/index.js';
import { BrokerLink, describeConnectFailure, type BrokerTarget } from './link.js';
import { authenticate, type AuthedStream, type AuthOffer } from './session.js';
import type { FrameStream, ReceivedFrame } from './frame-stream.js';
import { describeFrame, hex } from './describe.js';

/** What the kit was told about the broker under test. */
export interface KitSettings {
  readonly target: BrokerTarget;
  readonly tenant: string;
  readonly token: string;
  /** The broker's FELIX_MAX_FRAME_BYTES: the oversized-frame check sends one byte more. */
  readonly maxFrameBytes: number;
  /** The broker's FELIX_STREAM_REPLAY_CAPACITY: the too_old check publishes past it. */
  readonly replayCapacity: number;
}

/** Unique names per run, so checks never see each other's streams, caches or keys. */
export class Names {
  private counter = 0;
  readonly run = randomBytes(4).toString('hex');

  /** A fresh stream or cache name (follows the name rules). */
  next(label: string): string {
    return `conf-${this.run}-${label}-${++this.counter}`;
  }
}

/**
 * What one check works with: its own connections (closed when it ends), authenticated streams, fresh
 * names, and the follow-up every error check ends with: is the broker still serving?
 */
export class CheckContext {
  private readonly links: BrokerLink[] = [];

  constructor(
    readonly settings: KitSettings,
    readonly names: Names,
  ) {}

  get tenant(): string {
    return this.settings.tenant;
  }

  /** A new connection; `settings` change what it grants the broker (e.g. `maxStreamsUni`). */
  async connect(settings?: Partial<TransportSettings>): Promise<BrokerLink> {
    let link;
    try {
      link = await BrokerLink.open(this.settings.target, settings === undefined ? {} : { settings });
    } catch (err) {
      throw new CheckFailure(describeConnectFailure(err));
    }
    this.links.push(link);
    return link;
  }

  /** A connection offering another ALPN; the handshake's failure is returned, not thrown. */
  async connectWithAlpn(alpn: string): Promise<{ link: BrokerLink } | { error: unknown }> {
    try {
      const link = await BrokerLink.open(this.settings.target, { alpn });
      this.links.push(link);
      return { link };
    } catch (error) {
      return { error };
    }
  }

  /** A new stream on `link` (a new connection when omitted), authenticated with `offer`. */
  async authed(link?: BrokerLink, offer: AuthOffer = {}): Promise<AuthedStream> {
    const on = link ?? (await this.connect());
    return authenticate(on, on.openStream(), offer.tenant ?? this.tenant, this.settings.token, offer);
  }

  /**
   * The broker still serves: `stream` (when the error left it open) answers an acked publish, and so does
   * a stream on a fresh connection.
   */
  async stillServed(stream?: AuthedStream): Promise<void> {
    const name = this.names.next('served');
    if (stream !== undefined) {
      await during('after the error, the same stream', () => stream.publish(name, ['still-served']));
    }
    await during('after the error, a fresh connection', async () => {
      const fresh = await this.authed();
      await fresh.publish(name, ['fresh-connection']);
    });
  }

  /**
   * The broker ends `stream` as a protocol error, right after the offending bytes were sent on it: an
   * error reply (checked by `checkReply`), FIN, and STOP_SENDING 0x101 on the client's side. Call it
   * synchronously after sending, before anything is read: it holds the stream unread until the
   * STOP_SENDING is seen (see FrameStream.holdForStop), then reads the reply and the FIN.
   */
  async expectProtocolAbort(
    stream: FrameStream,
    what: string,
    checkReply: (frame: ReceivedFrame) => void,
  ): Promise<void> {
    stream.holdForStop();
    const stop = await stream.stopSending(`STOP_SENDING after ${what}`);
    expectThat(stop === 0x101, `STOP_SENDING after ${what} has code ${hex(stop)}, expected 0x101`);
    const reply = await stream.nextOrEnd(`the error reply to ${what}`);
    if (reply === null) throw new CheckFailure(`the stream ended without an error reply to ${what}`);
    checkReply(reply);
    const end = await stream.ended(`the end (FIN) of the stream after ${what}`);
    if (end !== 'fin')
      throw new CheckFailure(
        `after ${what} the stream was reset (code ${hex(end.reset)}); a RESET_STREAM discards the error reply, FIN expected`,
      );
    if (stream.unread > 0)
      throw new CheckFailure(
        `after the error reply to ${what}: ${describeFrame(await stream.next('a frame'))}`,
      );
  }

  async dispose(): Promise<void> {
    for (const link of this.links.splice(0).reverse()) await link.close();
  }
}
