import {
  ConnectionClosedError,
  STATELESS_RESET_REASON,
  TransportError,
  parseStreamError,
  type CloseInfo,
} from './errors.js';
import { Shutdown, type HostPort, type QuicheConnection, type RecvInfo } from './native.js';
import { connectionWindowCeiling, type TransportSettings } from './settings.js';
import { EMPTY, Stream } from './stream.js';

/** What a connection needs from the endpoint that drives it. */
export interface ConnectionDriver {
  readonly settings: TransportSettings;
  /** Schedules this connection for the next flush (coalesced: one flush per poll batch). */
  markDirty(conn: Connection): void;
  /** Sends what quiche has ready for this connection now, in the middle of a flush. */
  sendNow(conn: Connection): void;
}

export interface ConnectionStats {
  /** Smoothed round-trip time in milliseconds. */
  readonly rttMs: number;
  /** Congestion window in bytes. */
  readonly cwnd: number;
  readonly packetsSent: number;
  readonly packetsReceived: number;
  readonly packetsLost: number;
  readonly packetsRetransmitted: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly bytesLost: number;
  /** UDP payload size quiche sends with on this connection. */
  readonly maxUdpPayload: number;
  /** Bytes written by the application and not yet accepted by quiche. */
  readonly queuedBytes: number;
  readonly openStreams: number;
}

// RFC 9000 §20.1 names for the transport codes people actually meet, so close reasons read well.
const TRANSPORT_ERROR_NAMES: Record<number, string> = {
  0x0: 'no error',
  0x1: 'internal error',
  0x2: 'connection refused',
  0x3: 'flow control error',
  0x4: 'stream limit error',
  0x5: 'stream state error',
  0x6: 'final size error',
  0x7: 'frame encoding error',
  0x8: 'transport parameter error',
  0xa: 'protocol violation',
  0x12a: 'TLS: bad certificate',
  0x12e: 'TLS: certificate unknown',
  0x130: 'TLS: unknown CA (certificate verify failed)',
  0x178: 'TLS: no application protocol (ALPN mismatch)',
};

interface CreditWaiter {
  readonly bidi: boolean;
  readonly timer: NodeJS.Timeout;
  readonly resolve: (allowed: boolean) => void;
  readonly reject: (error: Error) => void;
}

// Up to this many streams, readable ones are found by asking quiche per stream (see readStreams).
const PROBE_STREAMS_MAX = 16;
// Writes up to this size are gathered (see streamWrite), into a buffer of this size per stream.
const GATHER_MAX_WRITE = 2048;
const GATHER_BYTES = 16 * 1024;
// A stream holds a gather buffer only while it has gathered bytes (until they are handed to quiche, in the
// same turn of the event loop), then returns it here for the next stream to gather into. Kept for the
// stream's life, each short-lived stream left 16 KiB for the GC, and connection churn grew the broker's
// malloc heap with them (issue 12).
const spareGatherBuffers: Buffer[] = [];
const SPARE_GATHER_BUFFERS_MAX = 64;

function releaseGather(stream: Stream): void {
  if (stream.gather !== null && spareGatherBuffers.length < SPARE_GATHER_BUFFERS_MAX)
    spareGatherBuffers.push(stream.gather);
  stream.gather = null;
}

/** The STOP_SENDING code reported for a stopped stream quiche had already forgotten (its code unknown). */
const STOP_CODE_FORGOTTEN = 0;

// Where a stream's unread bytes are read out to be thrown away (see streamStop).
const DISCARD = Buffer.allocUnsafe(64 * 1024);
const EMPTY_CHUNK = Buffer.alloc(0);

export class Connection {
  /** A stream the peer opened. Set its handlers here, synchronously. */
  onStream: ((stream: Stream) => void) | null = null;
  /** Fires once when the connection ends, however it ends. */
  onClose: ((info: CloseInfo) => void) | null = null;
  /**
   * Fires once, when streams the peer reset while their bytes sat unread here (paused) may have taken half
   * this connection's receive window for good, so a few more could leave the peer no credit to send
   * anything at all: a connection that stalls with no error. The owner should move its work to a new
   * connection. See strandedBytes.
   */
  onCreditStranded: ((strandedBytes: number) => void) | null = null;
  /**
   * At most how many bytes of connection-level receive credit are lost for good. The quiche that
   * @matrixai/quic ships (0.18) drops a stream's unread bytes when the peer resets it and never counts
   * them as consumed, so the connection's window (MAX_DATA) shrinks by them for its whole life (fixed
   * upstream in 0.24.7, cloudflare/quiche#2158). How many it dropped is not visible from here, so each
   * such stream counts as a full stream window, the most it can hold. Streams this side stops are read out
   * first and lose nothing (streamStop).
   */
  strandedBytes = 0;

  /** @internal */ dirty = false;
  /** @internal */ established = false;
  /** @internal */ timer: NodeJS.Timeout | null = null;
  /** @internal */ deadline = Infinity;
  /** @internal */ closeInfo: CloseInfo | null = null;
  /** @internal performance.now() of the last packet sent, for keep-alives */
  lastSentAt = 0;
  /** @internal a datagram of this connection arrived since the write deadline's last look */
  heard = false;
  /** @internal performance.now() of the write deadline's last look that found `heard` (or the handshake) */
  lastHeardAt = 0;
  /** @internal PINGs the write deadline sent since the peer was last heard, and when the first was */
  unansweredProbes = 0;
  /** @internal */ firstProbeAt = 0;
  /** @internal the application wrote bytes for the peer since its last datagram (the write deadline) */
  owed = false;
  /** @internal set once quiche has fully closed and the endpoint forgot the connection */
  finalized = false;
  /** @internal streams holding bytes quiche has not yet accepted */
  pendingStreams: Stream[] = [];
  /** @internal */ queuedBytes = 0;
  /** @internal a handler wrote while this connection's streams were being read */
  wroteDuringRead = false;
  /** @internal what a read wrote waits for the end of the flush's send phase (Stream.sendAtTurnEnd) */
  sendLast = false;
  /** @internal the stop watch's state (stop-watch.ts) */
  stopLookWaiting = false;
  /** @internal */ stopLookDueAt = 0;
  /** @internal */ stopLookMissed = false;
  /** @internal server side: the client's original destination CID, routed by map until the handshake ends */
  originalDcid: string | null = null;
  /**
   * @internal server side, after a Retry: the connection ID the Retry gave the client, which quiche keeps
   * as this connection's own. It carries no routing slot, so packets to it are routed by map.
   */
  retryCid: string | null = null;
  /**
   * @internal server side, on a socket bound to every address: the address the client sent its first
   * packet to, which every packet to it leaves from (transport/local-address.ts); null: the routed one.
   */
  replyFrom: string | null = null;
  /** @internal */ readonly streams = new Map<number, Stream>();
  /** @internal */ readonly recvInfo: RecvInfo;

  private nextBidi: number;
  private nextUni: number;
  // Highest peer stream id seen per kind: a lower unknown id is a stream we already retired.
  private highestRemote = [-1, -1, -1, -1];
  // Writers told to wait: only these are looked at when the queue shrinks, not every stream.
  private drainWaiters: Stream[] = [];
  private drainRound: Stream[] = [];
  private gathering: Stream[] = [];
  // Openers waiting for the peer to allow one more stream (its MAX_STREAMS), oldest first.
  private creditWaiters: CreditWaiter[] = [];
  // Paused streams whose FIN was read before their resume (readPausedEnd).
  private heldFins: Stream[] = [];
  // Streams whose STOP_SENDING is looked for after reads (Stream.watchStopSending; stop-watch.ts).
  private stopWatched: Stream[] = [];

  constructor(
    /** @internal */ readonly q: QuicheConnection,
    private readonly driver: ConnectionDriver,
    readonly isServer: boolean,
    readonly local: HostPort,
    readonly remote: HostPort,
    /** @internal slot in the endpoint's routing table, carried in our connection ID */
    readonly slot: number,
    /** @internal our source connection ID, as three u32 words compared on every routed packet */
    readonly cidWords: readonly [number, number, number],
  ) {
    this.recvInfo = { from: remote, to: local };
    this.nextBidi = isServer ? 1 : 0;
    this.nextUni = isServer ? 3 : 2;
  }

  get closed(): boolean {
    return this.closeInfo !== null;
  }

  /** How many more streams of this kind the peer allows us to open now. */
  streamsLeft(bidi = true): number {
    return bidi ? this.q.peerStreamsLeftBidi() : this.q.peerStreamsLeftUni();
  }

  /**
   * Whether the peer has let this side open any stream of this kind on this connection so far: one was
   * opened, or it allows one now. False: it granted none at all (its initial_max_streams was 0 and no
   * MAX_STREAMS raised it), so waiting for a stream to end cannot bring one.
   */
  grantedAnyStream(bidi = true): boolean {
    const first = (this.isServer ? 1 : 0) + (bidi ? 0 : 2);
    return (bidi ? this.nextBidi : this.nextUni) !== first || this.streamsLeft(bidi) > 0;
  }

  /**
   * Resolves true once the peer allows one more stream of this kind — at once when it does now, else when
   * its MAX_STREAMS arrives as streams end — so an opener can wait instead of failing with `stream_limit`;
   * false after `timeoutMs` without one (the wait is withdrawn, so it takes no stream from later openers).
   * Rejects when the connection closes. Waiters are woken oldest first, one per stream allowed.
   */
  whenStreamCredit(bidi: boolean, timeoutMs: number): Promise<boolean> {
    this.assertOpen();
    if (this.creditWaiters.length === 0 && this.streamsLeft(bidi) > 0) return Promise.resolve(true);
    return new Promise((resolve, reject) => {
      const waiter: CreditWaiter = {
        bidi,
        timer: setTimeout(() => {
          this.creditWaiters = this.creditWaiters.filter((w) => w !== waiter);
          resolve(false);
        }, timeoutMs),
        resolve,
        reject,
      };
      this.creditWaiters.push(waiter);
    });
  }

  /** @internal After each read: wakes the openers the peer's stream limit now lets through. */
  checkStreamCredit(): void {
    if (this.creditWaiters.length === 0) return;
    let bidiLeft = this.streamsLeft(true);
    let uniLeft = this.streamsLeft(false);
    const waiting = this.creditWaiters;
    this.creditWaiters = [];
    for (const waiter of waiting) {
      const allowed = waiter.bidi ? bidiLeft-- > 0 : uniLeft-- > 0;
      if (!allowed) {
        this.creditWaiters.push(waiter);
        continue;
      }
      clearTimeout(waiter.timer);
      waiter.resolve(true);
    }
  }

  /**
   * Hears STOP_SENDING on streams that have nothing to send: quiche reports a stopped stream only to a write
   * (or a capacity query), so a quiet stream's stop would otherwise wait for its next write. Called on the
   * keep-alive tick; one native call per writable stream. Streams with bytes queued are asked too: one
   * waiting for room that quiche has since collected (stopped, our reset acknowledged) gets no further send
   * attempt unless something else flushes the connection.
   */
  pollStopped(): void {
    if (this.closeInfo !== null) return;
    for (const stream of this.streams.values()) {
      if (stream.writeClosed) continue;
      const stop = this.stopOf(stream);
      if (stop !== null) this.onSendError(stream, stop);
    }
  }

  /** @internal How many streams the stop watch looks at after this connection's reads. */
  get stopWatchCount(): number {
    return this.stopWatched.length;
  }

  /** @internal See Stream.watchStopSending. */
  watchStop(stream: Stream): void {
    if (stream.stopWatched || stream.writeClosed || this.closeInfo !== null) return;
    stream.stopWatched = true;
    this.stopWatched.push(stream);
  }

  /**
   * @internal The stop watch's look: asks quiche about each watched stream that has nothing queued (one
   * with bytes queued hears its stop at their next send) and fires onStopSending for the stopped ones,
   * after the list is settled. Streams closed for writing, or retired, leave the list.
   */
  lookForStops(): void {
    if (this.closeInfo !== null) return;
    const list = this.stopWatched;
    const stopped: { stream: Stream; err: unknown }[] = [];
    let kept = 0;
    for (let i = 0; i < list.length; i++) {
      const stream = list[i]!;
      if (stream.writeClosed || this.streams.get(stream.id) !== stream) {
        stream.stopWatched = false;
        continue;
      }
      const stop = stream.queued === 0 ? this.stopOf(stream) : null;
      if (stop !== null) {
        stream.stopWatched = false;
        stopped.push({ stream, err: stop });
        continue;
      }
      list[kept++] = stream;
    }
    list.length = kept;
    for (const { stream, err } of stopped) {
      if (this.closeInfo !== null) return;
      this.onSendError(stream, err);
    }
  }

  /** Opens a stream of ours; bidirectional unless `bidi` is false. Throws when the peer's stream limit is reached. */
  openStream(bidi = true): Stream {
    this.assertOpen();
    const id = bidi ? this.nextBidi : this.nextUni;
    // A zero-length send creates the stream inside quiche, so its stream limit is checked now, not at
    // some later write.
    try {
      this.q.streamSend(id, EMPTY, false);
    } catch (err) {
      const { kind } = parseStreamError(err);
      throw new TransportError(
        kind === 'StreamLimit'
          ? `the peer allows no more ${bidi ? 'bidirectional' : 'unidirectional'} streams on this connection now`
          : `cannot open stream ${id}: ${(err as Error).message}`,
        kind === 'StreamLimit' ? 'stream_limit' : 'stream_open_failed',
      );
    }
    if (bidi) this.nextBidi += 4;
    else this.nextUni += 4;
    const stream = new Stream(this, id, true);
    this.streams.set(id, stream);
    return stream;
  }

  /** Closes with an application code and reason the peer receives; streams end with it. Idempotent. */
  close(code = 0, reason = ''): void {
    if (this.closeInfo !== null) return;
    try {
      this.q.close(true, code, Buffer.from(reason, 'utf8'));
    } catch {
      // Already closing inside quiche: the close it is sending wins.
    }
    this.driver.markDirty(this);
  }

  /**
   * Sends a PING now. A peer that has forgotten this connection — a server restarted on the same address
   * with the same stateless reset key — answers it with a stateless reset, so the connection learns at once
   * that it is gone instead of at its next keep-alive. A no-op once closing.
   */
  probe(): void {
    if (this.closeInfo !== null || this.q.isClosed() || this.q.isDraining()) return;
    try {
      this.q.sendAckEliciting();
    } catch {
      return; // not established yet, or closing inside quiche: nothing to probe
    }
    this.driver.markDirty(this);
  }

  /** @internal quiche's smoothed round-trip time of the active path, in ms (0 before any sample). */
  roundTripMs(): number {
    return this.q.pathStats()[0]?.rtt ?? 0;
  }

  stats(): ConnectionStats {
    const s = this.q.stats();
    const path = this.q.pathStats()[0];
    return {
      // quiche's path rtt crosses the binding as milliseconds with fractions.
      rttMs: path?.rtt ?? 0,
      cwnd: path?.cwnd ?? 0,
      packetsSent: s.sent,
      packetsReceived: s.recv,
      packetsLost: s.lost,
      packetsRetransmitted: s.retrans,
      bytesSent: s.sentBytes,
      bytesReceived: s.recvBytes,
      bytesLost: s.lostBytes,
      maxUdpPayload: this.q.maxSendUdpPayloadSize(),
      queuedBytes: this.queuedBytes,
      openStreams: this.streams.size,
    };
  }

  /** @internal Sends what quiche has ready now (see Stream.sendNow). */
  sendNow(): void {
    if (this.closeInfo !== null) return;
    this.wroteDuringRead = false;
    this.driver.sendNow(this);
  }

  /** @internal See Stream.sendAtTurnEnd: the flush's send phase takes what the read wrote, last. */
  sendAtTurnEnd(): void {
    this.wroteDuringRead = false;
    this.sendLast = true;
  }

  /** @internal Re-runs the flush for this connection (e.g. after a paused stream resumes). */
  wake(): void {
    if (this.closeInfo === null) this.driver.markDirty(this);
  }

  /**
   * @internal Small writes are copied into the stream's gather buffer and handed to quiche together when
   * the connection's packets are sent (one call through the binding instead of one per frame: a client
   * writing a request per resolved promise made ~8 calls per packet). Larger writes, a FIN, or a stream
   * with bytes already queued go to quiche at once, after whatever was gathered. The first
   * `transientBytes` of `data` are the caller's to change once this returns, so what quiche does not take
   * of them at once is queued as a copy; the rest is queued by reference.
   */
  streamWrite(stream: Stream, data: Uint8Array, fin: boolean, transientBytes: number): boolean {
    this.assertOpen();
    this.owed = true;
    if (
      !fin &&
      data.length <= GATHER_MAX_WRITE &&
      stream.queued === 0 &&
      stream.gathered + data.length <= GATHER_BYTES
    ) {
      const gather = (stream.gather ??= spareGatherBuffers.pop() ?? Buffer.allocUnsafe(GATHER_BYTES));
      gather.set(data, stream.gathered);
      stream.gathered += data.length;
      if (!stream.inGatherList) {
        stream.inGatherList = true;
        this.gathering.push(stream);
        this.driver.markDirty(this);
      }
      this.wroteDuringRead = true;
      return true;
    }
    if (stream.gathered !== 0) this.handOver(stream);
    if (fin) stream.writeClosed = true;
    return this.sendOrQueue(stream, data, fin, transientBytes);
  }

  /** @internal Hands every stream's gathered bytes to quiche; called before packets are sent. */
  handOverGathered(): void {
    const list = this.gathering;
    for (let i = 0; i < list.length; i++) {
      const stream = list[i]!;
      stream.inGatherList = false;
      if (stream.gathered !== 0) this.handOver(stream);
    }
    list.length = 0;
  }

  /** Whether small writes wait in gather buffers. */
  get hasGathered(): boolean {
    return this.gathering.length !== 0;
  }

  private handOver(stream: Stream): void {
    const bytes = stream.gather!.subarray(0, stream.gathered);
    stream.gathered = 0;
    // All of it is transient: what quiche does not take is queued as a copy, so the buffer is free after.
    if (this.closeInfo === null && !stream.writeClosed) this.sendOrQueue(stream, bytes, false, bytes.length);
    releaseGather(stream);
  }

  /** Offers `data` to quiche now unless bytes wait before it; queues the rest (see streamWrite). */
  private sendOrQueue(stream: Stream, data: Uint8Array, fin: boolean, transientBytes: number): boolean {
    let accepted = 0;
    if (stream.queued === 0 && stream.pending.length === stream.pendingHead && !stream.pendingFin) {
      let taken: number | null;
      try {
        taken = this.q.streamSend(stream.id, data, fin);
      } catch (err) {
        this.onSendError(stream, err);
        return true;
      }
      if (taken === null && this.forgottenByQuiche(stream)) return true;
      accepted = taken ?? 0;
      this.driver.markDirty(this);
      if (accepted !== 0) this.wroteDuringRead = true;
      if (accepted === data.length) {
        this.retireIfDone(stream);
        return true;
      }
    }
    if (accepted < transientBytes) {
      // A copy (Buffer#slice would be a view) of the transient bytes quiche left, then the rest by reference.
      const transient = new Uint8Array(data.subarray(accepted, transientBytes));
      if (transientBytes === data.length) data = transient;
      else {
        stream.pending.push(transient);
        stream.queued += transient.length;
        this.queuedBytes += transient.length;
        data = data.subarray(transientBytes);
      }
    } else if (accepted !== 0) {
      data = data.subarray(accepted);
    }
    stream.pending.push(data);
    stream.queued += data.length;
    if (fin) stream.pendingFin = true;
    this.queuedBytes += data.length;
    if (!stream.inPendingList) {
      stream.inPendingList = true;
      this.pendingStreams.push(stream);
    }
    if (stream.queued > stream.highWaterMark || this.queuedBytes > this.driver.settings.sendWindow) {
      this.awaitDrain(stream);
      return false;
    }
    return true;
  }

  /** @internal See Stream.connectionHasRoom. */
  hasRoomFor(stream: Stream): boolean {
    if (this.queuedBytes <= this.driver.settings.sendWindow) return true;
    this.awaitDrain(stream);
    return false;
  }

  /** @internal The stream's writer is told (onDrain) once it may write again: see fireDrains. */
  awaitDrain(stream: Stream): void {
    if (stream.needDrain) return;
    stream.needDrain = true;
    this.drainWaiters.push(stream);
  }

  /** @internal */
  streamReset(stream: Stream, code: number): void {
    if (this.closeInfo !== null) return;
    this.dropPending(stream);
    stream.writeClosed = true;
    try {
      this.q.streamShutdown(stream.id, Shutdown.Write, code);
    } catch {
      // Already finished or reset: nothing left to abandon.
    }
    this.retireIfDone(stream);
    this.driver.markDirty(this);
  }

  /** @internal */
  streamStop(stream: Stream, code: number): void {
    if (this.closeInfo !== null) return;
    // quiche 0.18 drops what is unread at stream_shutdown(Read) without giving it back to the connection's
    // flow control (see strandedBytes): read it out first, so it counts as consumed.
    if (!stream.readDone) this.readOut(stream);
    stream.readDone = true;
    try {
      this.q.streamShutdown(stream.id, Shutdown.Read, code);
    } catch {
      // Already fully read: nothing to stop.
    }
    this.retireIfDone(stream);
    this.driver.markDirty(this);
  }

  /**
   * @internal Hands every readable stream's bytes to its handler.
   *
   * quiche's readable() iterator costs ~10 µs per call through the binding even when it yields nothing,
   * against ~0.1 µs for asking about one stream; on a connection with few streams (a client's request
   * streams, a broker's view of one client) that iterator was the largest cost of a small request round.
   * So the known streams and the peer's next stream ids are asked one by one, and the iterator is used
   * only when quiche still reports something readable after that (a FIN or reset without data, a stream
   * opened out of order, a paused stream) or when the connection has many streams.
   */
  readStreams(scratch: Buffer): void {
    const q = this.q;
    // Writes made outside this read (a timer, a promise continuation) go out with this flush anyway; only
    // what a handler writes while its stream is read is worth sending before the next slice.
    this.wroteDuringRead = false;
    if (this.heldFins.length !== 0) this.deliverHeldFins();
    if (!q.isReadable()) return;
    if (this.streams.size <= PROBE_STREAMS_MAX) {
      for (const stream of this.streams.values()) {
        if (stream.readDone) continue;
        if (stream.paused) {
          if (q.streamFinished(stream.id)) this.readPausedEnd(stream);
        } else if (q.streamReadable(stream.id)) {
          this.readStream(stream, scratch);
          if (this.closeInfo !== null) return;
        }
      }
      this.readNewPeerStreams(this.isServer ? 0 : 1, scratch);
      this.readNewPeerStreams(this.isServer ? 2 : 3, scratch);
      if (this.closeInfo !== null || !q.isReadable()) return;
    }
    for (const id of q.readable()) {
      let stream = this.streams.get(id);
      if (stream === undefined) {
        stream = this.acceptRemoteStream(id);
        if (stream === undefined) {
          this.discardStream(id, scratch);
          continue;
        }
      }
      if (stream.paused) {
        if (!stream.readDone && q.streamFinished(id)) this.readPausedEnd(stream);
        continue;
      }
      this.readStream(stream, scratch);
    }
  }

  /**
   * quiche reports a paused stream finished: the peer reset it (quiche dropped its unread bytes), or it
   * ended with every byte read and only the FIN left. Read now rather than at resume: a reset's owner learns
   * at once that nothing more comes (and its stranded credit is counted), even if it never resumes. A FIN
   * waits for the resume, as data would.
   */
  private readPausedEnd(stream: Stream): void {
    let r: [number, boolean] | null;
    try {
      r = this.q.streamRecv(stream.id, DISCARD);
    } catch (err) {
      this.onRecvError(stream, err);
      return;
    }
    if (r === null || !r[1]) return;
    stream.readDone = true;
    this.heldFins.push(stream);
  }

  /** Hands each resumed stream the FIN readPausedEnd kept for it. */
  private deliverHeldFins(): void {
    const held = this.heldFins;
    let kept = 0;
    for (let i = 0; i < held.length; i++) {
      const stream = held[i]!;
      if (stream.paused) {
        held[kept++] = stream;
        continue;
      }
      stream.onData?.(EMPTY_CHUNK, true);
      this.retireIfDone(stream);
    }
    held.length = kept;
  }

  /** Reads the peer's streams of one kind opened in order since the last read. */
  private readNewPeerStreams(kind: number, scratch: Buffer): void {
    for (;;) {
      const highest = this.highestRemote[kind]!;
      const next = highest < 0 ? kind : highest + 4;
      if (!this.q.streamReadable(next)) return;
      const stream = this.acceptRemoteStream(next);
      if (stream === undefined) return;
      if (stream.paused) continue;
      this.readStream(stream, scratch);
      if (this.closeInfo !== null) return;
    }
  }

  private readStream(stream: Stream, scratch: Buffer): void {
    const q = this.q;
    const id = stream.id;
    for (;;) {
      let r: [number, boolean] | null;
      try {
        r = q.streamRecv(id, scratch);
      } catch (err) {
        this.onRecvError(stream, err);
        return;
      }
      if (r === null) {
        stream.heldSincePause = false;
        return;
      }
      const fin = r[1];
      if (fin) stream.readDone = true;
      const onData = stream.onData;
      if (onData !== null) onData(scratch.subarray(0, r[0]), fin);
      if (this.wroteDuringRead) {
        // The handler answered: put the answer on the wire before reading further, so the peer works
        // on it while this side parses the rest (a request burst would otherwise leave as one convoy).
        this.wroteDuringRead = false;
        this.driver.sendNow(this);
      }
      if (fin) {
        this.retireIfDone(stream);
        return;
      }
      if (stream.paused || this.closeInfo !== null) return;
    }
  }

  /** @internal Offers queued bytes to quiche again and fires onDrain for writers now below the window. */
  retryPending(): void {
    const list = this.pendingStreams;
    let kept = 0;
    for (let i = 0; i < list.length; i++) {
      const stream = list[i]!;
      if (this.flushStream(stream)) list[kept++] = stream;
      else stream.inPendingList = false;
    }
    list.length = kept;
    this.fireDrains();
  }

  /** @internal Builds the close notice once quiche is draining or closed. */
  closeInfoFromQuiche(): CloseInfo {
    const q = this.q;
    if (q.isTimedOut())
      return { code: 0, reason: 'idle timeout', isApp: false, byPeer: false, timedOut: true };
    const peer = q.peerError();
    if (peer !== null) return errorInfo(peer, true);
    const local = q.localError();
    if (local !== null) return errorInfo(local, false);
    // Closed with no error on either side and no timeout: quiche does that only when a datagram ended in
    // the peer's stateless reset token (RFC 9000 §10.3) — the peer has lost this connection's state.
    return { code: 0, reason: STATELESS_RESET_REASON, isApp: false, byPeer: true, timedOut: false };
  }

  /** @internal Marks the connection ended for the application and drops its queued writes. Idempotent. */
  notifyClosed(info: CloseInfo): void {
    if (this.closeInfo !== null) return;
    this.closeInfo = info;
    for (const stream of this.pendingStreams) {
      stream.pending.length = 0;
      stream.pendingHead = 0;
      stream.queued = 0;
      stream.inPendingList = false;
    }
    this.pendingStreams.length = 0;
    this.queuedBytes = 0;
    for (const stream of this.gathering) {
      stream.gathered = 0;
      stream.inGatherList = false;
      releaseGather(stream);
    }
    this.gathering.length = 0;
    const waiting = this.creditWaiters;
    this.creditWaiters = [];
    for (const waiter of waiting) {
      clearTimeout(waiter.timer);
      waiter.reject(new ConnectionClosedError(`connection closed: ${info.reason}`, info));
    }
    this.onClose?.(info);
  }

  /** Whether bytes written by the application still wait for quiche to accept them. */
  get hasPendingWrites(): boolean {
    return this.pendingStreams.length !== 0;
  }

  private assertOpen(): void {
    if (this.closeInfo !== null) {
      throw new ConnectionClosedError(`connection closed: ${this.closeInfo.reason}`, this.closeInfo);
    }
  }

  private acceptRemoteStream(id: number): Stream | undefined {
    const initiatedByServer = (id & 1) === 1;
    if (initiatedByServer === this.isServer) return undefined; // one of ours, already retired
    const kind = id & 3;
    const highest = this.highestRemote[kind]!;
    if (id <= highest) return undefined; // the peer's, already retired
    this.highestRemote[kind] = id;
    // RFC 9000 §3.2: a stream implicitly opens every lower-numbered stream of its kind, and quiche lists
    // readable streams in no particular order, so announce the skipped ones too, lowest first: their
    // data may be read right after this one's.
    let stream: Stream | undefined;
    for (let next = highest < 0 ? kind : highest + 4; next <= id; next += 4) {
      stream = new Stream(this, next, false);
      this.streams.set(next, stream);
      this.onStream?.(stream);
    }
    return stream;
  }

  /** Reads what quiche holds for `stream` and throws it away. */
  private readOut(stream: Stream): void {
    try {
      while (this.q.streamRecv(stream.id, DISCARD) !== null);
      stream.heldSincePause = false;
    } catch (err) {
      if (parseStreamError(err).kind === 'StreamReset') this.resetWhileHeld(stream);
    }
  }

  /** The peer reset `stream`: if it was paused with bytes unread, quiche lost their credit (strandedBytes). */
  private resetWhileHeld(stream: Stream): void {
    if (!stream.heldSincePause) return;
    stream.heldSincePause = false;
    const settings = this.driver.settings;
    this.strandedBytes += settings.streamRecvWindow;
    if (this.onCreditStranded !== null && this.strandedBytes * 2 >= connectionWindowCeiling(settings)) {
      const report = this.onCreditStranded;
      this.onCreditStranded = null;
      report(this.strandedBytes);
    }
  }

  private discardStream(id: number, scratch: Buffer): void {
    try {
      while (this.q.streamRecv(id, scratch) !== null);
    } catch {
      // reset or finished: nothing to discard
    }
  }

  /** Returns whether the stream still holds queued bytes. */
  private flushStream(stream: Stream): boolean {
    const q = this.q;
    const pending = stream.pending;
    while (stream.pendingHead < pending.length) {
      const chunk = pending[stream.pendingHead]!;
      const last = stream.pendingHead === pending.length - 1;
      let taken: number | null;
      try {
        taken = q.streamSend(stream.id, chunk, last && stream.pendingFin);
      } catch (err) {
        this.onSendError(stream, err);
        return false;
      }
      if (taken === null && this.forgottenByQuiche(stream)) return false;
      const accepted = taken ?? 0;
      stream.queued -= accepted;
      this.queuedBytes -= accepted;
      if (accepted < chunk.length) {
        if (accepted > 0) pending[stream.pendingHead] = chunk.subarray(accepted);
        return true;
      }
      stream.pendingHead++;
    }
    pending.length = 0;
    stream.pendingHead = 0;
    stream.pendingFin = false;
    this.retireIfDone(stream);
    return false;
  }

  private fireDrains(): void {
    // A waiting writer may go on once its own queue is below its high-water mark and either the connection
    // is back within its send window or this stream has nothing queued at all: a stream whose bytes quiche
    // has all taken is not the one filling the window, so a stalled sibling cannot hold it back.
    const withinWindow = this.queuedBytes <= this.driver.settings.sendWindow;
    // Collect first: a drain handler may write again and re-arm needDrain on the same stream.
    const waiters = this.drainWaiters;
    if (waiters.length === 0) return;
    const round = this.drainRound;
    let kept = 0;
    for (let i = 0; i < waiters.length; i++) {
      const stream = waiters[i]!;
      if (this.streams.get(stream.id) !== stream)
        stream.needDrain = false; // retired: nobody waits on it
      else if (stream.queued <= stream.highWaterMark && (withinWindow || stream.queued === 0)) {
        stream.needDrain = false;
        round.push(stream);
      } else waiters[kept++] = stream;
    }
    waiters.length = kept;
    for (let i = 0; i < round.length; i++) round[i]!.onDrain?.();
    round.length = 0;
  }

  private dropPending(stream: Stream): void {
    stream.gathered = 0;
    releaseGather(stream);
    this.queuedBytes -= stream.queued;
    stream.pending.length = 0;
    stream.pendingHead = 0;
    stream.queued = 0;
    stream.pendingFin = false;
  }

  /**
   * quiche answers a write to a stream it has already collected — the peer stopped it and acknowledged our
   * reset, all before this write — with Done, exactly as it answers a write with no room. Only then (quiche
   * took nothing) is the stream asked once more, by its capacity, which tells the two apart: a forgotten
   * stream is stopped (onStopSending), where its bytes would otherwise wait for room for ever, holding its
   * owner (a broker's subscription) and the connection's send window.
   */
  private forgottenByQuiche(stream: Stream): boolean {
    const stop = this.stopOf(stream);
    if (stop === null) return false;
    this.onSendError(stream, stop);
    return true;
  }

  /**
   * quiche's error when the peer has stopped `stream` (StreamStopped) or quiche has forgotten it after that
   * (InvalidStreamState), else null: a capacity query, the one call that reports a stop without writing.
   */
  private stopOf(stream: Stream): unknown {
    try {
      this.q.streamCapacity(stream.id);
      return null;
    } catch (err) {
      const { kind } = parseStreamError(err);
      return kind === 'StreamStopped' || kind === 'InvalidStreamState' ? err : null;
    }
  }

  private onSendError(stream: Stream, err: unknown): void {
    const { kind, code } = parseStreamError(err);
    this.dropPending(stream);
    stream.writeClosed = true;
    if (kind === 'StreamStopped') stream.onStopSending?.(code);
    // quiche forgets a stream the peer stopped once our reset of it was acknowledged: a later write or
    // capacity query finds no such stream. It was stopped all the same; its code is gone with it.
    else if (kind === 'InvalidStreamState') stream.onStopSending?.(STOP_CODE_FORGOTTEN);
    this.retireIfDone(stream);
  }

  private onRecvError(stream: Stream, err: unknown): void {
    const { kind, code } = parseStreamError(err);
    stream.readDone = true;
    if (kind === 'StreamReset') {
      this.resetWhileHeld(stream);
      stream.onReset?.(code);
    }
    this.retireIfDone(stream);
  }

  private retireIfDone(stream: Stream): void {
    if (stream.readDone && stream.writeClosed && stream.queued === 0 && !stream.pendingFin) {
      this.streams.delete(stream.id);
    }
  }
}

function errorInfo(e: { isApp: boolean; errorCode: number; reason: Uint8Array }, byPeer: boolean): CloseInfo {
  let reason = Buffer.from(e.reason.buffer, e.reason.byteOffset, e.reason.byteLength).toString('utf8');
  if (reason === '' && !e.isApp)
    reason = TRANSPORT_ERROR_NAMES[e.errorCode] ?? `transport error 0x${e.errorCode.toString(16)}`;
  return { code: e.errorCode, reason, isApp: e.isApp, byPeer, timedOut: false };
}
