/**
 * The narrow view of a QUIC stream and connection that the protocol sessions are written against.
 * transport/'s Stream and Connection implement it as they are; the engine tests drive the very same session
 * code with in-memory streams, without sockets.
 */

/** One stream: bytes in through handlers set once, bytes out with backpressure. */
export interface ByteStream {
  /** Received bytes; `chunk` is valid only during the call. */
  onData: ((chunk: Buffer, fin: boolean) => void) | null;
  onDrain: (() => void) | null;
  onReset: ((code: number) => void) | null;
  onStopSending: ((code: number) => void) | null;
  /** Queued bytes beyond which write() returns false. */
  highWaterMark: number;
  readonly bidirectional: boolean;
  readonly writable: boolean;
  /** Bytes written that the transport has not yet handed to the network. */
  readonly writableLength: number;
  /** Of those, the bytes the network refused for now: what highWaterMark bounds (past it, onDrain follows). */
  readonly waitingLength: number;
  /** Writes bytes kept by reference; false: wait for onDrain. */
  write(data: Uint8Array, fin?: boolean): boolean;
  /** Writes bytes whose first `transientBytes` the caller reuses as soon as this returns. */
  writeTransient(data: Uint8Array, transientBytes?: number): boolean;
  /**
   * Whether the connection is within its send window; false: wait for onDrain (it fires once the
   * connection is back within it, or this stream has nothing queued).
   */
  connectionHasRoom(): boolean;
  /** Moves highWaterMark; already past the new mark, onDrain follows once the stream is back within it. */
  setHighWaterMark(bytes: number): void;
  /** FIN after everything written. */
  end(data?: Uint8Array): boolean;
  /** Abandons the sending side with an application code (RESET_STREAM). */
  reset(code: number): void;
  /** Asks the peer to stop sending, with an application code (STOP_SENDING). */
  stop(code: number): void;
  /**
   * onStopSending fires soon after the peer's STOP_SENDING is read, not only at this stream's next write:
   * for a stream with nothing to write whose stop must end something at once.
   */
  watchStopSending(): void;
  /** Leaves received bytes unread, so flow control holds the peer back. */
  pause(): void;
  resume(): void;
  /** Puts what was written so far on the wire now. */
  sendNow(): void;
  /** What was written during the current read waits for the end of the event-loop turn's flush. */
  sendAtTurnEnd(): void;
}

/** One client connection, as the sessions see it. The streams the client opens are handed to the session. */
export interface PeerConnection {
  readonly remote: { readonly host: string; readonly port: number };
  /** Opens a broker-initiated stream (unidirectional for events). */
  openStream(bidirectional: boolean): ByteStream;
  /**
   * Whether the client has let the broker open any stream of this kind on the connection so far (false: it
   * granted none at all, so none will come back when one ends).
   */
  grantedAnyStream(bidirectional: boolean): boolean;
  /** Closes the connection with an application code and a reason. */
  close(code: number, reason: string): void;
}
