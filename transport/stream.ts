import { TransportError } from './errors.js';
import type { Connection } from './connection.js';

/**
 * One QUIC stream. Handlers are plain properties set once (no emitter, no promise per chunk) and are
 * called synchronously from the endpoint's loop.
 */
export class Stream {
  /**
   * Received bytes. `chunk` is a view into the endpoint's shared scratch buffer and is valid only during
   * the call: copy what you keep. Peer-opened streams must set this in Connection.onStream or their data
   * is discarded.
   */
  onData: ((chunk: Buffer, fin: boolean) => void) | null = null;
  /**
   * Fires after write() returned false, once this stream is below its highWaterMark and the connection's
   * queue is back within its send window.
   */
  onDrain: (() => void) | null = null;
  /** The peer abandoned its sending side (RESET_STREAM) with an application code; no more data comes. */
  onReset: ((code: number) => void) | null = null;
  /** The peer will read no more (STOP_SENDING) with an application code; queued data was discarded. */
  onStopSending: ((code: number) => void) | null = null;
  /**
   * Queued bytes on this stream beyond which write() asks the writer to wait, whatever the connection's
   * send window says. Lets one stalled stream hold back only itself, not its connection's other streams.
   */
  highWaterMark = Infinity;

  /** @internal queued chunks not yet accepted by quiche, consumed from `pendingHead` */
  pending: Uint8Array[] = [];
  /** @internal */
  pendingHead = 0;
  /** @internal bytes in `pending` */
  queued = 0;
  /** @internal FIN to send after the last queued chunk */
  pendingFin = false;
  /** @internal */
  inPendingList = false;
  /** @internal a write returned false and the writer awaits onDrain */
  needDrain = false;
  /** @internal */
  readDone: boolean;
  /** @internal no more writes: FIN queued or sent, reset, or stopped by the peer */
  writeClosed: boolean;
  /** @internal */
  paused = false;
  /** @internal small writes copied together, handed to quiche in one call when packets are sent */
  gather: Buffer | null = null;
  /** @internal */
  gathered = 0;
  /** @internal */
  inGatherList = false;
  /** @internal in its connection's stop watch */
  stopWatched = false;
  /** @internal pause() may have left bytes in quiche that no read has emptied since (see Connection.strandedBytes) */
  heldSincePause = false;

  constructor(
    readonly connection: Connection,
    readonly id: number,
    readonly local: boolean,
  ) {
    const bidi = (id & 2) === 0;
    // A unidirectional stream only ever has one direction: the other is born finished.
    this.readDone = !bidi && local;
    this.writeClosed = !bidi && !local;
  }

  get bidirectional(): boolean {
    return (this.id & 2) === 0;
  }

  /** Bytes handed to write() that quiche has not yet accepted. */
  get writableLength(): number {
    return this.queued + this.gathered;
  }

  /**
   * Bytes quiche refused that wait on this stream: what highWaterMark bounds (a write that takes them past
   * it returns false, and onDrain follows). Gathered small writes are not among them: they go to quiche
   * with this turn's send.
   */
  get waitingLength(): number {
    return this.queued;
  }

  get writable(): boolean {
    return !this.writeClosed && !this.connection.closed;
  }

  /**
   * Sends bytes; returns false when the writer should wait for onDrain (the connection's queue exceeds its
   * send window). Every byte is kept and delivered in order either way. The buffer is not copied: do not
   * modify it after writing (sharing one encoded buffer across many streams is the intended use).
   */
  write(data: Uint8Array, fin = false): boolean {
    if (this.writeClosed)
      throw new TransportError(`stream ${this.id} is closed for writing`, 'stream_closed');
    return this.connection.streamWrite(this, data, fin, 0);
  }

  /**
   * Puts what was written so far on the wire now, instead of at the end of this event-loop turn: a
   * handler answering a burst of requests lets the peer start on the first answers while it works on
   * the rest.
   */
  sendNow(): void {
    this.connection.sendNow();
  }

  /**
   * What a handler wrote during the current read leaves with the end of this event-loop turn's flush
   * instead of right after the handler returns: the handler queued work for the turn's end (events to
   * deliver) that should reach the wire first.
   */
  sendAtTurnEnd(): void {
    this.connection.sendAtTurnEnd();
  }

  /**
   * write() for a buffer whose first `transientBytes` (all of it by default) the caller changes as soon as
   * this returns, e.g. a scratch buffer, or per-stream bytes written in front of a shared body: what quiche
   * does not take of them at once is copied; the rest is kept by reference, as write() keeps everything.
   */
  writeTransient(data: Uint8Array, transientBytes = data.length): boolean {
    if (this.writeClosed)
      throw new TransportError(`stream ${this.id} is closed for writing`, 'stream_closed');
    return this.connection.streamWrite(this, data, false, transientBytes);
  }

  /**
   * Whether the connection is within its send window (TransportSettings.sendWindow): false while it holds
   * more queued; onDrain then fires once it is back within it, or once this stream has nothing queued
   * (a stream quiche takes everything from is not what fills the window). For writers that decide before
   * writing, e.g. many streams of one connection sharing its window.
   */
  connectionHasRoom(): boolean {
    return this.connection.hasRoomFor(this);
  }

  /**
   * Moves highWaterMark. A stream that already holds more refused bytes than the new mark is then waited on
   * as if a write had just passed it: onDrain fires once it is back within the mark.
   */
  setHighWaterMark(bytes: number): void {
    this.highWaterMark = bytes;
    if (this.queued > bytes) this.connection.awaitDrain(this);
  }

  /** Sends FIN after everything queued (and after `data`, when given). */
  end(data?: Uint8Array): boolean {
    return this.write(data ?? EMPTY, true);
  }

  /** Abandons the sending side: queued bytes are dropped and the peer's onReset gets `code`. */
  reset(code: number): void {
    this.connection.streamReset(this, code);
  }

  /**
   * Asks the peer to stop sending (its onStopSending gets `code`); bytes received and not yet read, and any
   * that arrive after, are discarded.
   */
  stop(code: number): void {
    this.connection.streamStop(this, code);
  }

  /**
   * Hear the peer's STOP_SENDING (onStopSending) soon after the packet carrying it is read — at once on a
   * quiet connection, within a few milliseconds on a busy one (stop-watch.ts) — instead of at this stream's
   * next write or the keep-alive tick: for a stream with nothing to write whose stop must end something at
   * once. Costs one native call per read of its connection, at most; ends when the stream is closed for
   * writing.
   */
  watchStopSending(): void {
    this.connection.watchStop(this);
  }

  /** Leaves received bytes in quiche, so its flow control makes the peer wait: real receive backpressure. */
  pause(): void {
    this.paused = true;
    this.heldSincePause = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.connection.wake();
  }
}

export const EMPTY = new Uint8Array(0);
