// Stand-ins for transport objects, so client units run without sockets. Only what the client uses.
import type { Connection, Stream } from '../../transport/index.js';
import { FrameDecoder, copyBytes, decodeFramePayload, type DecodedFrame } from '../../wire/index.js';

export class FakeStream {
  readonly writes: Buffer[] = [];
  onData: ((chunk: Buffer, fin: boolean) => void) | null = null;
  onDrain: (() => void) | null = null;
  onReset: ((code: number) => void) | null = null;
  onStopSending: ((code: number) => void) | null = null;
  /** What write() answers: false simulates transport backpressure. */
  accepting = true;
  writable = true;
  finished = false;
  paused = false;
  stoppedWith: number | null = null;
  resetWith: number | null = null;
  highWaterMark = Infinity;
  /** Times the client asked for what it wrote to go on the wire at once (sendNow). */
  sendNows = 0;

  constructor(readonly bidirectional = true) {}

  sendNow(): void {
    this.sendNows++;
  }

  write(data: Uint8Array, fin = false): boolean {
    if (!this.writable) throw new Error('write after end');
    this.writes.push(Buffer.from(data));
    if (fin) this.finishWriting();
    return this.accepting;
  }

  end(data?: Uint8Array): boolean {
    return this.write(data ?? new Uint8Array(0), true);
  }

  reset(code: number): void {
    this.resetWith = code;
    this.writable = false;
  }

  stop(code: number): void {
    this.stoppedWith = code;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  /** Delivers bytes as the transport would (a fresh view, valid only during the call). */
  receive(bytes: Uint8Array, fin = false): void {
    this.onData?.(Buffer.from(bytes), fin);
  }

  /** Everything the client wrote, decoded frame by frame. */
  frames(): { flags: number; message: DecodedFrame }[] {
    const out: { flags: number; message: DecodedFrame }[] = [];
    const decoder = new FrameDecoder({
      onFrame: (flags, payload) =>
        out.push({ flags, message: decodeFramePayload(flags, copyBytes(payload)) }),
      onError: (error) => {
        throw error;
      },
    });
    for (const chunk of this.writes) decoder.push(chunk);
    return out;
  }

  asStream(): Stream {
    return this as unknown as Stream;
  }

  private finishWriting(): void {
    this.finished = true;
    this.writable = false;
  }
}

export class FakeConnection {
  readonly remote = { host: '127.0.0.1', port: 5000 };
  onStream: ((stream: Stream) => void) | null = null;
  onClose: (() => void) | null = null;
  readonly opened: FakeStream[] = [];

  openStream(bidi = true): Stream {
    const stream = new FakeStream(bidi);
    this.opened.push(stream);
    return stream.asStream();
  }

  /** A stream the broker opens towards the client. */
  peerOpens(bidi = false): FakeStream {
    const stream = new FakeStream(bidi);
    stream.writable = bidi;
    this.onStream?.(stream.asStream());
    return stream;
  }

  asConnection(): Connection {
    return this as unknown as Connection;
  }
}

/** Lets queued microtasks and promise callbacks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}
