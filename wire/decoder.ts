/**
 * Incremental FLX1 stream decoder, in the manner of fastwebsockets' engine: synchronous, no knowledge
 * of sockets or streams, no promise or closure per frame. The transport pushes whatever bytes arrived;
 * complete frames come out through a sink set once.
 */
import { WireError } from './errors.js';
import {
  checkFrameHeader,
  DEFAULT_MAX_FRAME_BYTES,
  HEADER_BYTES,
  headerFlags,
  headerLength,
} from './frame.js';
import { KNOWN_FLAGS } from './flags.js';
import type { FrameBufferPool } from './frame-buffer-pool.js';

export interface FrameSink {
  /**
   * One complete frame. `payload` is valid only until this call returns: it is a view into the chunk
   * given to push() (which the caller may reuse as scratch) or into the decoder's own reused buffer.
   * Copy whatever must outlive the call (copyBytes, or decode from a copy), and do not call push() or
   * reset() from here. A sink that throws leaves the decoder failed: the exception propagates out of
   * push() and the rest of that chunk is not decoded.
   *
   * `owned` is true when `payload` lies in a buffer the decoder has let go of (a frame larger than the
   * retained buffer): the sink may keep it as it is, without the copy it would otherwise make.
   */
  onFrame(flags: number, payload: Uint8Array, owned: boolean): void;
  /**
   * A frame that is not delivered. Non-fatal errors (`frame_too_large`, `unknown_flags`) skip that frame
   * and decoding continues with the next one; after a fatal error (`error.fatal`) the decoder ignores all
   * further input and the stream should be closed.
   */
  onError(error: WireError): void;
}

export interface FrameDecoderOptions {
  /** Largest payload accepted (FELIX_MAX_FRAME_BYTES). Larger frames are skipped unbuffered. */
  maxFrameBytes?: number;
  /** Flag bits accepted; a frame with any other bit is skipped with `unknown_flags`. */
  knownFlags?: number;
  /**
   * A partial-frame buffer up to this size is kept for the next partial frame; a larger one (grown by a
   * rare big frame) is released once that frame is delivered, so idle streams do not pin memory.
   */
  retainBufferBytes?: number;
  /**
   * Once this share of a large frame has arrived (e.g. 1/8), its buffer is made the frame's full length at
   * once instead of doubling with what arrives: one allocation and no re-copying per frame (a 256 KiB
   * frame: 256 KiB allocated instead of ~500 KiB and ~250 KiB copied again), at the cost of holding up to
   * 1/share × the bytes received instead of 2×. For a peer trusted that far — a client reading the broker
   * it chose; a broker reading clients keeps the default (never).
   */
  fullFrameAfter?: number;
  /**
   * Where frames larger than the retained buffer are assembled: a buffer that holds the whole frame is
   * taken from the pool when it has one (otherwise grown as without a pool) and given back once the sink
   * has returned, so such frames reach the sink with `owned` false. Only for sinks that copy what they
   * keep (the broker's). Without a pool such a frame's buffer is handed over (`owned` true).
   */
  pool?: FrameBufferPool;
}

const DEFAULT_RETAIN_BUFFER_BYTES = 64 * 1024;
const MIN_BUFFER_BYTES = 4096;
const EMPTY = new Uint8Array(0);

const enum State {
  Header,
  Payload,
  Skip,
  Failed,
}

export class FrameDecoder {
  private readonly sink: FrameSink;
  private maxFrameBytes: number;
  private readonly knownFlags: number;
  private readonly retainBufferBytes: number;
  /** fullFrameAfter as a multiplier of the bytes received (8 for 1/8); 0: never early. */
  private readonly fullFrameFactor: number;
  private readonly pool: FrameBufferPool | null;

  private state = State.Header;
  /** Holds a header split across chunks. */
  private readonly headerBytes = new Uint8Array(HEADER_BYTES);
  private headerFilled = 0;
  private flags = 0;
  private length = 0;
  /** Payload bytes still expected (State.Payload) or still to discard (State.Skip). */
  private remaining = 0;
  /** Holds a payload split across chunks; grown with the data received (see fullFrameAfter), not the declared length. */
  private buffer: Uint8Array = EMPTY;
  /** The retained (small) buffer, kept aside while a large frame is assembled in another. */
  private spare: Uint8Array = EMPTY;
  private buffered = 0;
  private pushing = false;

  constructor(sink: FrameSink, options: FrameDecoderOptions = {}) {
    this.sink = sink;
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.knownFlags = options.knownFlags ?? KNOWN_FLAGS;
    this.retainBufferBytes = options.retainBufferBytes ?? DEFAULT_RETAIN_BUFFER_BYTES;
    const share = options.fullFrameAfter;
    this.fullFrameFactor = share !== undefined && share > 0 && share <= 1 ? 1 / share : 0;
    this.pool = options.pool ?? null;
  }

  /**
   * Changes the frame size limit from the next frame header on (the broker takes small frames until a
   * stream has said who it is).
   */
  setMaxFrameBytes(bytes: number): void {
    this.maxFrameBytes = bytes;
  }

  /** True after a fatal error; further input is ignored until reset(). */
  get failed(): boolean {
    return this.state === State.Failed;
  }

  /** Inside a frame larger than allowed, discarding its payload as it arrives (nothing of it is held). */
  get skipping(): boolean {
    return this.state === State.Skip;
  }

  /** Bytes held for an incomplete frame (header and payload). */
  get bufferedBytes(): number {
    return this.headerFilled + this.buffered;
  }

  /** Size of the reused partial-frame buffer. */
  get bufferCapacity(): number {
    return this.buffer.byteLength;
  }

  /** Feeds received bytes. The decoder keeps no reference to `chunk` after returning. */
  push(chunk: Uint8Array): void {
    if (this.pushing) throw new Error('FrameDecoder.push called from inside a FrameSink callback');
    if (this.state === State.Failed) return;
    this.pushing = true;
    try {
      this.consume(chunk);
    } catch (error) {
      this.state = State.Failed;
      throw error;
    } finally {
      this.pushing = false;
    }
  }

  /** The stream ended: a frame still in progress is reported as a fatal `incomplete` error. */
  end(): void {
    if (this.state === State.Failed) return;
    if (this.state !== State.Header || this.headerFilled > 0) {
      const missing = this.state === State.Header ? HEADER_BYTES - this.headerFilled : this.remaining;
      this.fail(
        new WireError('incomplete', `stream ended with ${missing} bytes of a frame missing`, this.context()),
      );
    }
  }

  /** Forgets all state so the decoder can serve a new stream; keeps a small buffer for reuse. */
  reset(): void {
    if (this.pushing) throw new Error('FrameDecoder.reset called from inside a FrameSink callback');
    this.state = State.Header;
    this.headerFilled = 0;
    this.buffered = 0;
    this.remaining = 0;
    this.releaseLargeBuffer();
  }

  private consume(chunk: Uint8Array): void {
    const end = chunk.byteLength;
    let position = 0;
    while (position < end) {
      if (this.state === State.Header) {
        if (this.headerFilled === 0 && end - position >= HEADER_BYTES) {
          if (!this.beginFrame(chunk, position)) return;
          position += HEADER_BYTES;
        } else {
          const take = Math.min(HEADER_BYTES - this.headerFilled, end - position);
          this.headerBytes.set(chunk.subarray(position, position + take), this.headerFilled);
          this.headerFilled += take;
          position += take;
          if (this.headerFilled < HEADER_BYTES) return;
          this.headerFilled = 0;
          if (!this.beginFrame(this.headerBytes, 0)) return;
        }
        if (this.awaitingPayload() && end - position >= this.length) {
          // The whole payload is in this chunk: deliver a view, copy nothing.
          const payload = chunk.subarray(position, position + this.length);
          position += this.length;
          this.state = State.Header;
          this.sink.onFrame(this.flags, payload, false);
        }
      } else if (this.state === State.Payload) {
        const take = Math.min(this.remaining, end - position);
        this.ensureCapacity(this.buffered + take);
        this.buffer.set(chunk.subarray(position, position + take), this.buffered);
        this.buffered += take;
        this.remaining -= take;
        position += take;
        if (this.remaining === 0) this.deliverBuffered();
      } else if (this.state === State.Skip) {
        const take = Math.min(this.remaining, end - position);
        this.remaining -= take;
        position += take;
        if (this.remaining === 0) this.state = State.Header;
      } else {
        return;
      }
    }
  }

  /** Validates a header and sets the state for its payload; false when the stream is now failed. */
  private beginFrame(bytes: Uint8Array, offset: number): boolean {
    const problem = checkFrameHeader(bytes, offset);
    if (problem) {
      this.fail(problem);
      return false;
    }
    this.flags = headerFlags(bytes, offset);
    this.length = headerLength(bytes, offset);
    if (this.length > this.maxFrameBytes) {
      this.skipFrame(
        new WireError(
          'frame_too_large',
          `frame of ${this.length} bytes exceeds the ${this.maxFrameBytes}-byte limit`,
          this.context(),
        ),
      );
    } else if ((this.flags & ~this.knownFlags) !== 0) {
      this.skipFrame(
        new WireError('unknown_flags', `unknown frame flags 0x${this.flags.toString(16)}`, this.context()),
      );
    } else if (this.length === 0) {
      this.state = State.Header;
      this.sink.onFrame(this.flags, EMPTY, false);
    } else {
      this.state = State.Payload;
      this.remaining = this.length;
      this.buffered = 0;
    }
    return true;
  }

  /** A method, not an inline comparison, because beginFrame() changes the state behind TS's narrowing. */
  private awaitingPayload(): boolean {
    return this.state === State.Payload;
  }

  private skipFrame(error: WireError): void {
    this.state = this.length === 0 ? State.Header : State.Skip;
    this.remaining = this.length;
    this.sink.onError(error);
  }

  private fail(error: WireError): void {
    this.state = State.Failed;
    this.headerFilled = 0;
    this.buffered = 0;
    this.releaseLargeBuffer();
    this.sink.onError(error);
  }

  private deliverBuffered(): void {
    const buffer = this.buffer;
    const payload = buffer.subarray(0, this.length);
    this.state = State.Header;
    this.buffered = 0;
    if (buffer.byteLength <= this.retainBufferBytes) {
      this.sink.onFrame(this.flags, payload, false);
      return;
    }
    // A large frame's buffer: too large to keep for the next partial frame, so back to the pool once the
    // sink is done with it, or, without a pool, handed over instead of having the sink copy the frame.
    this.buffer = this.spare;
    this.spare = EMPTY;
    const pool = this.pool;
    if (pool === null) {
      this.sink.onFrame(this.flags, payload, true);
      return;
    }
    try {
      this.sink.onFrame(this.flags, payload, false);
    } finally {
      pool.give(buffer);
    }
  }

  private ensureCapacity(needed: number): void {
    if (this.buffer.byteLength >= needed) return;
    // A large frame takes a pooled buffer that holds all of it, when there is one. Otherwise grow with what
    // arrived (doubling), capped by the frame's length: a header that merely claims a large payload costs
    // nothing until the bytes actually come (with fullFrameAfter, until that share came).
    let grown = this.length > this.retainBufferBytes ? (this.pool?.take(this.length) ?? null) : null;
    if (grown === null) {
      const doubled = Math.max(MIN_BUFFER_BYTES, this.buffer.byteLength * 2);
      const capacity =
        this.fullFrameFactor > 0 && needed * this.fullFrameFactor >= this.length
          ? this.length
          : Math.max(needed, Math.min(doubled, this.length));
      grown = Buffer.allocUnsafeSlow(capacity);
    }
    const previous = this.buffer;
    if (this.buffered > 0) grown.set(previous.subarray(0, this.buffered));
    this.buffer = grown;
    // Growing into a large buffer, the retained one waits aside for the next small frame; an outgrown large
    // one goes back to the pool (or is dropped, without one); an outgrown small one is dropped.
    if (previous.byteLength > this.retainBufferBytes) this.pool?.give(previous);
    else if (grown.byteLength > this.retainBufferBytes) this.spare = previous;
  }

  private releaseLargeBuffer(): void {
    if (this.buffer.byteLength <= this.retainBufferBytes) return;
    this.pool?.give(this.buffer);
    this.buffer = this.spare;
    this.spare = EMPTY;
  }

  private context(): { flags: number; frameLength: number } {
    return { flags: this.flags, frameLength: this.length };
  }
}
