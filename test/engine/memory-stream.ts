/**
 * The broker's stream port (broker/quic/stream-port.ts) in memory: the protocol sessions run exactly as a
 * QUIC stream drives them, without sockets, and a test sees everything they did to the stream — the bytes
 * written and in which order, FIN, RESET_STREAM and STOP_SENDING codes, pauses — and can play the client's
 * side: send bytes in any chunks, FIN, reset, stop sending, or stall reading.
 *
 * Faithful to transport/stream.ts where the engine could tell the difference:
 * - A received chunk is valid only during onData: it is a view into one scratch buffer per connection,
 *   overwritten with 0xEE once the handler returns, so an engine that keeps a view reads garbage.
 * - write() keeps the caller's buffer by reference until the network takes it; writeTransient() copies the
 *   transient prefix at once. Bytes are copied only when the network takes them, so an engine that changes
 *   a buffer it handed to write() is caught while the network is stalled.
 * - Backpressure: write() returns false once more than highWaterMark bytes wait; onDrain fires only after
 *   such a write, once the waiting bytes are back at or below the mark. writableLength is what waits.
 *   With `network = 'open'` (the default) the network takes every write at once; `'stalled'` keeps the
 *   bytes until the test calls networkTake(). The connection-wide send window is not modelled.
 * - Writing on a stream closed for writing (FIN written, reset, stopped by the peer, connection closed)
 *   throws, as the transport does; `writable` says whether a write is allowed.
 * - pause() leaves received bytes unread until resume(); they are delivered on a later turn of the event
 *   loop, as the transport reads them when its connection is next polled. After stop() received bytes are
 *   discarded, and a peer-opened stream without an onData handler discards them too. stop() once the
 *   client's FIN was read sends nothing (quiche has nothing left to stop), so `stopCode` stays null.
 */
import type { ByteStream, PeerConnection } from '../../broker/quic/stream-port.js';

const EMPTY = Buffer.alloc(0);
const POISON = 0xee;

export type NetworkMode = 'open' | 'stalled';

export class MemoryStreamClosedError extends Error {
  override readonly name = 'MemoryStreamClosedError';
}

export class MemoryStream implements ByteStream {
  onData: ((chunk: Buffer, fin: boolean) => void) | null = null;
  onDrain: (() => void) | null = null;
  onReset: ((code: number) => void) | null = null;
  onStopSending: ((code: number) => void) | null = null;
  highWaterMark = Infinity;

  /** 'open': the network takes every write at once; 'stalled': writes wait for networkTake(). */
  network: NetworkMode = 'open';

  // --- what the broker side did ---------------------------------------------------------------------
  /** Bytes the network took, copied at the moment it took them, in order. */
  private readonly taken: Buffer[] = [];
  private takenBytes = 0;
  /** FIN reached the client (after every byte before it). */
  finReceived = false;
  /** The broker's RESET_STREAM code, if it abandoned its sending side. */
  resetCode: number | null = null;
  /** The broker's STOP_SENDING code, if it asked the client to stop sending. */
  stopCode: number | null = null;
  /**
   * The client's own STOP_SENDING code: from then on the client reads nothing more, so what it received may
   * end inside a frame (quiche answers with RESET_STREAM and discards the rest, as it would here).
   */
  clientStopCode: number | null = null;
  /** Times the broker paused reading this stream. */
  pauses = 0;

  // --- the broker → client direction ------------------------------------------------------------------
  /** Written and not yet taken by the network: by reference, except transient prefixes (copied). */
  private readonly waiting: Uint8Array[] = [];
  private waitingBytes = 0;
  private finWaiting = false;
  private writeClosed: boolean;
  private needDrain = false;

  // --- the client → broker direction ------------------------------------------------------------------
  private readDone: boolean;
  private paused = false;
  private readonly held: { bytes: Buffer; fin: boolean }[] = [];
  private deliveryScheduled = false;
  /** Bytes handed to onData so far. */
  delivered = 0;
  /** The client sent FIN (it may still be held while the stream is paused). */
  clientFinished = false;

  constructor(
    private readonly connection: MemoryConnection,
    readonly id: number,
    /** Opened by the broker (true) or by the client (false). */
    readonly local: boolean,
  ) {
    // As in transport/stream.ts: a unidirectional stream's other direction is born finished.
    const bidi = this.bidirectional;
    this.readDone = !bidi && local;
    this.writeClosed = !bidi && !local;
  }

  get bidirectional(): boolean {
    return (this.id & 2) === 0;
  }

  get writable(): boolean {
    return !this.writeClosed && !this.connection.closed;
  }

  get writableLength(): number {
    return this.waitingBytes;
  }

  write(data: Uint8Array, fin = false): boolean {
    return this.enqueue(data, fin, 0);
  }

  writeTransient(data: Uint8Array, transientBytes = data.length): boolean {
    return this.enqueue(data, false, transientBytes);
  }

  end(data?: Uint8Array): boolean {
    return this.write(data ?? EMPTY, true);
  }

  reset(code: number): void {
    if (this.connection.closed) return;
    this.waiting.length = 0;
    this.waitingBytes = 0;
    this.writeClosed = true;
    // RESET_STREAM after the FIN was delivered changes nothing for the client.
    if (!this.finReceived) this.resetCode ??= code;
    this.finWaiting = false;
  }

  /** Every client stop is heard at once here (clientStopSending): nothing to watch. */
  watchStopSending(): void {}

  stop(code: number): void {
    if (this.connection.closed || this.readDone) return;
    this.readDone = true;
    this.stopCode = code;
    this.held.length = 0;
  }

  pause(): void {
    if (!this.paused) this.pauses++;
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.scheduleHeldDelivery();
  }

  sendNow(): void {
    // Nothing to hurry: the network takes bytes at once ('open') or when the test says ('stalled').
  }

  get waitingLength(): number {
    return this.writableLength;
  }

  connectionHasRoom(): boolean {
    return true;
  }

  setHighWaterMark(bytes: number): void {
    this.highWaterMark = bytes;
    if (this.waitingBytes > bytes) this.needDrain = true;
  }

  sendAtTurnEnd(): void {
    // Nothing to hold back either: there is no turn-end flush in memory.
  }

  // --- the network ----------------------------------------------------------------------------------

  /**
   * Lets the network take up to `maxBytes` of what waits (stalled mode), then fires onDrain if a write
   * asked for it and the stream is back at or below its mark.
   */
  networkTake(maxBytes = Infinity): void {
    let budget = maxBytes;
    while (this.waiting.length > 0 && budget > 0) {
      const head = this.waiting[0]!;
      const take = Math.min(head.length, budget);
      this.record(head.subarray(0, take));
      budget -= take;
      this.waitingBytes -= take;
      if (take === head.length) this.waiting.shift();
      else this.waiting[0] = head.subarray(take);
    }
    if (this.waiting.length === 0 && this.finWaiting) {
      this.finWaiting = false;
      this.finReceived = true;
    }
    if (this.needDrain && this.waitingBytes <= this.highWaterMark) {
      this.needDrain = false;
      this.onDrain?.();
    }
  }

  /** Everything the client received so far, in order. */
  received(): Buffer {
    return this.taken.length === 1 ? this.taken[0]! : Buffer.concat(this.taken, this.takenBytes);
  }

  get receivedBytes(): number {
    return this.takenBytes;
  }

  /** What the client received, as the pieces the network took (read incrementally by index). */
  get receivedChunks(): readonly Buffer[] {
    return this.taken;
  }

  // --- the client's side ----------------------------------------------------------------------------

  /** The client sends `bytes` (one chunk as the transport would deliver it), with FIN if `fin`. */
  clientWrite(bytes: Uint8Array, fin = false): void {
    if (this.clientFinished) throw new Error(`stream ${this.id}: the client already sent FIN`);
    if (!this.bidirectional && this.local)
      throw new Error(`stream ${this.id} is the broker's unidirectional stream`);
    if (fin) this.clientFinished = true;
    if (this.readDone) return;
    // The transport reads at most one scratch buffer's worth per onData, and checks for a pause between reads.
    const max = this.connection.maxChunkBytes;
    let at = 0;
    do {
      const end = Math.min(bytes.length, at + max);
      const piece = Buffer.from(bytes.subarray(at, end));
      const last = end === bytes.length;
      at = end;
      if (this.paused || this.held.length > 0) this.held.push({ bytes: piece, fin: fin && last });
      else this.deliver(piece, fin && last);
    } while (at < bytes.length);
  }

  /** The client sends FIN without data. */
  clientFinish(): void {
    this.clientWrite(EMPTY, true);
  }

  /** The client abandons its sending side (RESET_STREAM). */
  clientReset(code: number): void {
    if (this.readDone) return;
    this.readDone = true;
    this.held.length = 0;
    this.connection.guard(() => this.onReset?.(code));
  }

  /** The client will read no more (STOP_SENDING): what waits is discarded and writes end. */
  clientStopSending(code: number): void {
    if (this.writeClosed) return;
    this.writeClosed = true;
    this.clientStopCode = code;
    this.waiting.length = 0;
    this.waitingBytes = 0;
    this.finWaiting = false;
    this.connection.guard(() => this.onStopSending?.(code));
  }

  /** Bytes the client sent that wait, unread, while the broker holds the stream paused. */
  get heldBytes(): number {
    let n = 0;
    for (const h of this.held) n += h.bytes.length;
    return n;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  // --- internals ------------------------------------------------------------------------------------

  private enqueue(data: Uint8Array, fin: boolean, transientBytes: number): boolean {
    if (this.connection.closed)
      throw new MemoryStreamClosedError(`connection closed: ${this.connection.closeReason}`);
    if (this.writeClosed) throw new MemoryStreamClosedError(`stream ${this.id} is closed for writing`);
    if (fin) this.writeClosed = true;
    if (transientBytes > 0) {
      // The caller reuses the transient prefix as soon as this returns: keep a copy of it.
      this.push(new Uint8Array(data.subarray(0, transientBytes)));
      if (transientBytes < data.length) this.push(data.subarray(transientBytes));
    } else this.push(data);
    if (fin) this.finWaiting = true;
    if (this.network === 'open') this.networkTake();
    if (this.waitingBytes > this.highWaterMark) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  private push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.waiting.push(bytes);
    this.waitingBytes += bytes.length;
  }

  private record(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    // Copied now: this is the moment the real transport hands the bytes to quiche.
    const copy = Buffer.from(bytes);
    this.taken.push(copy);
    this.takenBytes += copy.length;
    this.connection.bytesToClient += copy.length;
  }

  private deliver(bytes: Buffer, fin: boolean): void {
    if (this.readDone) return;
    if (fin) this.readDone = true;
    const handler = this.onData;
    if (handler === null) return; // the transport discards data for a stream nobody reads
    this.delivered += bytes.length;
    this.connection.deliverChunk(bytes, fin, handler);
  }

  private scheduleHeldDelivery(): void {
    if (this.deliveryScheduled || this.held.length === 0) return;
    this.deliveryScheduled = true;
    setImmediate(() => {
      this.deliveryScheduled = false;
      while (!this.paused && this.held.length > 0) {
        const { bytes, fin } = this.held.shift()!;
        this.deliver(bytes, fin);
      }
    });
  }
}

/** One client connection as the broker's ConnectionSession sees it. */
export class MemoryConnection implements PeerConnection {
  readonly remote = { host: '127.0.0.1', port: 40_000 };
  /** The broker's sessions take client-opened streams here (ConnectionSession.onStream). */
  onStream: ((stream: MemoryStream) => void) | null = null;
  /** Streams the broker opened (its event streams), in order. */
  readonly brokerStreams: MemoryStream[] = [];
  /** Streams the client opened, in order. */
  readonly clientStreams: MemoryStream[] = [];
  /** How many streams the broker may open (the client's stream limit); openStream throws beyond. */
  maxBrokerStreams = Infinity;
  closeCode: number | null = null;
  closeReason = '';
  /** Exceptions that escaped a handler into the "transport": the real one would not survive them. */
  readonly escaped: unknown[] = [];
  /** Bytes every stream's network took for the client. */
  bytesToClient = 0;
  /** Largest chunk one onData call gets: the transport's receive scratch buffer (transport/endpoint.ts). */
  maxChunkBytes = 32 * 1024;

  private scratch = Buffer.alloc(32 * 1024);
  private nextClientBidi = 0;
  private nextClientUni = 2;
  private nextBrokerBidi = 1;
  private nextBrokerUni = 3;

  get closed(): boolean {
    return this.closeCode !== null;
  }

  openStream(bidirectional: boolean): MemoryStream {
    if (this.closed) throw new MemoryStreamClosedError(`connection closed: ${this.closeReason}`);
    if (this.brokerStreams.length >= this.maxBrokerStreams) {
      throw new Error('the peer allows no more streams on this connection now');
    }
    const id = bidirectional ? this.nextBrokerBidi : this.nextBrokerUni;
    if (bidirectional) this.nextBrokerBidi += 4;
    else this.nextBrokerUni += 4;
    const stream = new MemoryStream(this, id, true);
    this.brokerStreams.push(stream);
    return stream;
  }

  grantedAnyStream(): boolean {
    return this.brokerStreams.length > 0 || this.maxBrokerStreams > 0;
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closeCode = code;
    this.closeReason = reason;
  }

  /** The client opens a stream; the broker's onStream gets it at once, as the transport hands it over. */
  openClientStream(bidirectional = true): MemoryStream {
    if (this.closed) throw new MemoryStreamClosedError(`connection closed: ${this.closeReason}`);
    const id = bidirectional ? this.nextClientBidi : this.nextClientUni;
    if (bidirectional) this.nextClientBidi += 4;
    else this.nextClientUni += 4;
    const stream = new MemoryStream(this, id, false);
    this.clientStreams.push(stream);
    this.guard(() => this.onStream?.(stream));
    return stream;
  }

  /** @internal Hands `bytes` to a handler as a view of the shared scratch buffer, poisoned afterwards. */
  deliverChunk(bytes: Buffer, fin: boolean, handler: (chunk: Buffer, fin: boolean) => void): void {
    if (this.scratch.length < bytes.length)
      this.scratch = Buffer.alloc(Math.max(bytes.length, this.scratch.length * 2));
    const chunk = this.scratch.subarray(0, bytes.length);
    chunk.set(bytes);
    try {
      this.guard(() => handler(chunk, fin));
    } finally {
      chunk.fill(POISON);
    }
  }

  /** @internal Runs a handler as the transport would, recording what escapes it. */
  guard(handler: () => void): void {
    try {
      handler();
    } catch (err) {
      this.escaped.push(err);
    }
  }
}
