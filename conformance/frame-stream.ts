import type { Stream } from '../transport/index.js';
import {
  FrameDecoder,
  decodeFramePayload,
  encodeFrame,
  encodeMessage,
  type DecodedFrame,
  type Message,
} from '../wire/index.js';
import { CheckFailure } from './failure.js';
import { Signal } from './signal.js';

/** One frame the broker sent, kept as received and as decoded. */
export interface ReceivedFrame {
  readonly flags: number;
  /** An owned copy of the payload. */
  readonly payload: Buffer;
  /** What the payload decodes to by its flags, or null when it does not decode. */
  readonly message: DecodedFrame | null;
  /** Why it did not decode. */
  readonly problem: string | null;
}

/** What a FrameStream needs from the connection it lives on. */
export interface StreamHost {
  /** Why the connection is gone, or null while it is up. */
  closedReason(): string | null;
  /** Fires whenever the connection changes state, so waits on its streams can end early. */
  readonly changes: Signal;
}

// A probe byte written to learn of a STOP_SENDING: the transport reports the peer's code on a write.
const PROBE = new Uint8Array([0]);

/**
 * One QUIC stream spoken in FLX1 frames: sends frames (well-formed or not), and waits, bounded, for the
 * broker's next frame, its FIN, or the application code of its RESET_STREAM or STOP_SENDING.
 */
export class FrameStream {
  readonly frames: ReceivedFrame[] = [];
  /** Framing errors in what the broker sent (bad magic, a frame cut by FIN): a broker bug. */
  readonly framingErrors: string[] = [];
  resetCode: number | null = null;
  stopCode: number | null = null;
  finished = false;
  private read = 0;
  private holding = false;
  private readonly decoder = new FrameDecoder(
    {
      onFrame: (flags, payload) => this.keep(flags, payload),
      onError: (e) => this.framingErrors.push(`${e.code}: ${e.message}`),
    },
    // The broker is trusted to send what it negotiated; what it sends is decoded whatever its size.
    { maxFrameBytes: 0xffff_ffff },
  );

  constructor(
    readonly stream: Stream,
    private readonly host: StreamHost,
    private readonly timeoutMs: number,
  ) {
    stream.onData = (chunk, fin) => {
      this.decoder.push(chunk);
      if (fin) {
        this.finished = true;
      }
      host.changes.notify();
    };
    stream.onReset = (code) => {
      this.resetCode = code;
      host.changes.notify();
    };
    stream.onStopSending = (code) => {
      this.stopCode = code;
      host.changes.notify();
    };
  }

  get id(): number {
    return this.stream.id;
  }

  /** Frames received and not yet taken by next(). */
  get unread(): number {
    return this.frames.length - this.read;
  }

  /** Skips the frames received so far (e.g. the hello of an event stream, read by whoever bound it). */
  skip(count: number): void {
    this.read = Math.min(this.frames.length, this.read + count);
  }

  send(message: Message, options: { msgpack?: boolean } = {}): void {
    this.write(encodeMessage(message, options));
  }

  /** A JSON frame with exactly this text: for integers JSON.stringify cannot write, or broken JSON. */
  sendJsonText(text: string): void {
    this.write(encodeFrame(0, Buffer.from(text, 'utf8')));
  }

  sendFrame(flags: number, payload: Uint8Array): void {
    this.write(encodeFrame(flags, payload));
  }

  write(bytes: Uint8Array): void {
    if (!this.stream.writable)
      throw new CheckFailure(`stream ${this.id} no longer accepts writes (the broker stopped it?)`);
    this.stream.write(bytes);
  }

  /** Sends FIN. */
  end(): void {
    if (this.stream.writable) this.stream.end();
  }

  /** The broker's next frame on this stream. */
  async next(what: string, timeoutMs = this.timeoutMs): Promise<ReceivedFrame> {
    await this.host.changes.until(
      () => this.unread > 0,
      what,
      timeoutMs,
      () => this.endedReason() ?? this.host.closedReason(),
    );
    return this.frames[this.read++]!;
  }

  /** The broker's next frame, or null when the stream ends (FIN or reset) with no frame left to read. */
  async nextOrEnd(what: string): Promise<ReceivedFrame | null> {
    await this.host.changes.until(
      () => this.unread > 0 || this.finished || this.resetCode !== null,
      what,
      this.timeoutMs,
      () => this.host.closedReason(),
    );
    return this.unread > 0 ? this.frames[this.read++]! : null;
  }

  /** Waits for the broker to end its sending side: 'fin', or the RESET_STREAM code. */
  async ended(what: string): Promise<'fin' | { reset: number }> {
    await this.host.changes.until(
      () => this.finished || this.resetCode !== null,
      what,
      this.timeoutMs,
      () => this.host.closedReason(),
    );
    return this.resetCode !== null ? { reset: this.resetCode } : 'fin';
  }

  /**
   * Holds this stream for stopSending(): stops reading it and writes a probe byte on every turn of the
   * event loop. Call it right after sending what should make the broker stop the stream.
   *
   * Why: QUIC tells a writer of STOP_SENDING only when it writes, and quiche (0.18) forgets a stream once
   * both directions are done: had the transport read the broker's reply and FIN (or a reset) before the
   * next write, the STOP_SENDING code would be lost with the stream. Unread, the stream stays alive until
   * a probe meets the stop. The broker, having stopped reading, never sees the probes.
   */
  holdForStop(): void {
    if (this.holding) return;
    this.holding = true;
    this.stream.pause();
    const deadline = Date.now() + this.timeoutMs;
    const tick = (): void => {
      if (this.stopCode !== null || Date.now() > deadline || this.host.closedReason() !== null) return;
      if (this.stream.writable) {
        try {
          this.stream.write(PROBE);
        } catch {
          // Closed for writing in between: a stop code, if any, has been recorded.
        }
      }
      setImmediate(tick);
    };
    setImmediate(tick);
  }

  /** The code of the broker's STOP_SENDING (see holdForStop); reading resumes afterwards. */
  async stopSending(what: string): Promise<number> {
    this.holdForStop();
    try {
      await this.host.changes.until(
        () => this.stopCode !== null,
        what,
        this.timeoutMs,
        () =>
          this.host.closedReason() ??
          (this.stream.writable ? null : 'the stream closed for writing without a STOP_SENDING'),
      );
    } finally {
      this.stream.resume();
    }
    return this.stopCode!;
  }

  private endedReason(): string | null {
    if (this.unread > 0) return null;
    if (this.resetCode !== null) return `the broker reset the stream (code 0x${this.resetCode.toString(16)})`;
    if (this.finished) return 'the broker ended the stream (FIN)';
    return null;
  }

  private keep(flags: number, view: Uint8Array): void {
    const payload = Buffer.from(view);
    let message: DecodedFrame | null = null;
    let problem: string | null = null;
    try {
      message = decodeFramePayload(flags, payload);
    } catch (err) {
      problem = (err as Error).message;
    }
    this.frames.push({ flags, payload, message, problem });
  }
}
