/**
 * A client-side QUIC stream that writes exactly the bytes it is given and records everything the broker
 * answers: decoded frames (or the wire error a frame failed with), FIN, RESET_STREAM and STOP_SENDING
 * with their codes. Waiting is event-driven and always bounded. Uses transport/ and wire/ only, so the
 * frame-attacker process can run it.
 */
import { Endpoint, type Connection, type Stream, type TransportSettings } from '../../transport/index.js';
import { FrameDecoder, WireError, decodeFramePayload, type DecodedFrame } from '../../wire/index.js';
import { DEFAULT_AUTH, message } from './frames.js';

export type Received = DecodedFrame | WireError;

/** One client endpoint and its single connection to the broker. */
export interface RawConnection {
  readonly connection: Connection;
  close(): Promise<void>;
}

export async function openConnection(
  port: number,
  settings: Partial<TransportSettings> = {},
  timeoutMs = 10_000,
): Promise<RawConnection> {
  const endpoint = await Endpoint.client({ host: '127.0.0.1', port, settings });
  try {
    const connection = await endpoint.connect({ timeoutMs });
    return { connection, close: () => endpoint.close({ timeoutMs: 100 }) };
  } catch (err) {
    await endpoint.close({ timeoutMs: 0 });
    throw err;
  }
}

/**
 * Bytes to write after the real ones on a stream whose STOP_SENDING must be seen while our side has
 * nothing else to send (a unidirectional stream): when a STOP_SENDING arrives and everything we sent on
 * the stream is acknowledged, quiche forgets the stream, code and all, while processing that very
 * packet. With this much still unsent or in flight, it keeps the stream long enough to report the code:
 * on a fresh connection 30 times of 30; on a long-used one, whose congestion window lets the whole tail
 * out at once, only 5 of 30 (so give such a stream a connection of its own). The broker, which stopped
 * reading, never looks at these bytes.
 */
export const IN_FLIGHT_TAIL = Buffer.alloc(1024 * 1024);

/** What the STOP_SENDING watch needs of transport's internal quiche connection. */
interface QuicheStreams {
  recv(...args: unknown[]): unknown;
  streamWritable(streamId: number, len: number): boolean;
}

const stopWatches = new WeakMap<Connection, Set<RawFrameStream>>();

/**
 * Streams of `connection` whose STOP_SENDING code is looked for after every received packet.
 *
 * Why: transport's Stream.onStopSending fires only when a write fails with StreamStopped, but quiche
 * answers a STOP_SENDING by resetting our sending side itself and soon forgets the stream, after which a
 * write fails with nothing at all, so the code is never seen. Right after the packet carrying the
 * STOP_SENDING is processed the stream usually still exists (see IN_FLIGHT_TAIL) and quiche reports
 * `StreamStopped(code)` for it, so that is when this asks. It reaches into transport's internal quiche
 * connection; if that changes shape the watch does nothing and only the public onStopSending is left.
 */
function watchStopSending(raw: RawFrameStream): () => void {
  const connection = raw.stream.connection;
  let watched = stopWatches.get(connection);
  if (watched === undefined) {
    const q = (connection as unknown as { q?: QuicheStreams }).q;
    if (q === undefined || typeof q.recv !== 'function' || typeof q.streamWritable !== 'function') {
      return () => undefined;
    }
    const streams = new Set<RawFrameStream>();
    watched = streams;
    stopWatches.set(connection, streams);
    const recv = q.recv.bind(q);
    q.recv = (...args: unknown[]): unknown => {
      const result = recv(...args);
      for (const s of streams) {
        try {
          q.streamWritable(s.stream.id, 0);
        } catch (err) {
          const stopped = /^StreamStopped\((\d+)\)/.exec(err instanceof Error ? err.message : '');
          if (stopped !== null) s.stopSendingReceived(Number(stopped[1]));
          // Any other error: quiche has forgotten the stream; nothing more will be learnt about it.
          streams.delete(s);
        }
      }
      return result;
    };
  }
  const set = watched;
  set.add(raw);
  return () => set.delete(raw);
}

export class RawFrameStream {
  readonly received: Received[] = [];
  /** The broker ended its sending side normally (FIN). */
  finished = false;
  /** The broker's RESET_STREAM code, once it abandoned its sending side. */
  resetCode: number | null = null;
  /** The broker's STOP_SENDING code, once it arrived (see watchStopSending). */
  stopCode: number | null = null;
  private read = 0;
  private readonly waiters = new Set<() => void>();
  private readonly decoder = new FrameDecoder({
    onFrame: (flags, payload) => {
      let frame: Received;
      try {
        // A copy: the decoded message may keep views of a payload that is only valid during this call.
        frame = decodeFramePayload(flags, Buffer.from(payload));
      } catch (err) {
        frame = err instanceof WireError ? err : new WireError('malformed', String(err));
      }
      this.received.push(frame);
    },
    onError: (e) => this.received.push(e),
  });

  private readonly unwatch: () => void;

  constructor(readonly stream: Stream) {
    this.unwatch = watchStopSending(this);
    stream.onData = (chunk, fin) => {
      this.decoder.push(chunk);
      if (fin) this.finished = true;
      this.changed();
    };
    stream.onReset = (code) => {
      this.resetCode = code;
      this.changed();
    };
    stream.onStopSending = (code) => this.stopSendingReceived(code);
  }

  /** Opens a bidirectional stream and, unless `auth` is null, authenticates and awaits the answer. */
  static async open(
    connection: Connection,
    auth: Record<string, unknown> | null = {},
    limitMs = 10_000,
  ): Promise<RawFrameStream> {
    const raw = new RawFrameStream(connection.openStream());
    if (auth !== null) {
      raw.write(message({ ...DEFAULT_AUTH, ...auth }));
      const answer = await raw.next('the answer to auth', limitMs);
      if (!('type' in answer) || (answer.type !== 'auth_ok' && answer.type !== 'ok')) {
        throw new Error(`auth was answered with ${describeFrame(answer)}`);
      }
    }
    return raw;
  }

  /** The broker will send nothing more on this stream. */
  get ended(): boolean {
    return this.finished || this.resetCode !== null;
  }

  /** Frames received and not yet taken by next(). */
  get unread(): Received[] {
    return this.received.slice(this.read);
  }

  write(bytes: Uint8Array): void {
    this.stream.write(bytes);
  }

  send(m: Record<string, unknown>): void {
    this.write(message(m));
  }

  /** Sends FIN (after `bytes`, when given). */
  end(bytes?: Uint8Array): void {
    this.stream.end(bytes);
  }

  /** The next unread frame; rejects when the stream ends first or nothing comes within `limitMs`. */
  async next(what: string, limitMs = 10_000): Promise<Received> {
    await this.until(() => this.received.length > this.read || this.ended, what, limitMs);
    if (this.received.length > this.read) return this.received[this.read++]!;
    throw new Error(`the stream ended (${this.endDescription()}) while waiting for ${what}`);
  }

  /** Resolves once `predicate` holds; rejects after `limitMs` naming `what`. */
  until(predicate: () => boolean, what: string, limitMs = 10_000): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`gave up after ${limitMs} ms waiting for ${what}`));
      }, limitMs);
      this.waiters.add(check);
    });
  }

  /** Resolves with the broker's STOP_SENDING code, or null when none arrives within `limitMs`. */
  async awaitStopSending(limitMs = 5_000): Promise<number | null> {
    await this.until(() => this.stopCode !== null, 'STOP_SENDING', limitMs).catch(() => undefined);
    return this.stopCode;
  }

  /** @internal the broker asked us to stop sending (see watchStopSending). */
  stopSendingReceived(code: number): void {
    if (this.stopCode !== null) return;
    this.stopCode = code;
    this.unwatch();
    this.changed();
  }

  /** Stops looking for STOP_SENDING on this stream (a long-running client's streams would pile up). */
  forget(): void {
    this.unwatch();
  }

  endDescription(): string {
    if (this.resetCode !== null) return `reset with 0x${this.resetCode.toString(16)}`;
    return this.finished ? 'FIN' : 'open';
  }

  private changed(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

/** A short readable description of a received frame, for failure messages and reports. */
export function describeFrame(frame: Received): string {
  if (frame instanceof WireError) return `undecodable frame (${frame.code}: ${frame.message})`;
  const text = JSON.stringify(frame, (_key, value: unknown) =>
    value instanceof Uint8Array ? `<${value.byteLength} bytes>` : value,
  );
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}
