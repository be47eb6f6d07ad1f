/**
 * Hearing a STOP_SENDING soon after the packet carrying it is read, on the streams whose owner asked
 * (Stream.watchStopSending). quiche reports a stopped stream only to a write or a capacity query of that
 * stream, so a stream with nothing to write hears its stop otherwise only at the keep-alive tick
 * (Connection.pollStopped), seconds later: too late for a stream whose stop must end something at once (a
 * broker's subscription control stream, whose subscriptions hold their ids and queues until then).
 *
 * After a read of a connection that watches streams, each of them is asked once (one native call apiece).
 * To bound that cost on a busy connection, a connection that was just looked at waits
 * `STOP_LOOK_MS_PER_STREAM` per watched stream (at least until the next tick) before the next look: a stop
 * read meanwhile is heard at the tick after that, so a stop is heard at once on a connection that was quiet,
 * and within max(STOP_LOOK_TICK_MS, watched × STOP_LOOK_MS_PER_STREAM) otherwise — about 1% of a core at
 * most, whatever the number of streams. Nothing runs for connections that watch nothing.
 */

/** How the watch sees a connection: its watched streams and the look at them, and its wait. */
export interface StopWatched {
  /** Streams watched (0: the connection costs nothing here). */
  readonly stopWatchCount: number;
  /** Asks quiche about each watched stream; fires onStopSending for the stopped ones. */
  lookForStops(): void;
  /** Gone or going: no more looks. */
  readonly closed: boolean;
  /** @internal the watch's state: looked at recently, so the next look waits until `stopLookDueAt` */
  stopLookWaiting: boolean;
  stopLookDueAt: number;
  /** A read came while it waited: look once the wait is over. */
  stopLookMissed: boolean;
}

/** Granularity of the waits, and the longest a stop read on a connection with few watched streams waits. */
export const STOP_LOOK_TICK_MS = 5;
/** Wait per watched stream between two looks: one native call (~0.2 µs) per 20 µs is about 1% of a core. */
export const STOP_LOOK_MS_PER_STREAM = 0.02;

export class StopWatch<C extends StopWatched> {
  private waiting: C[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    /** A look's handler threw: the endpoint's last resort for that connection. */
    private readonly failed: (c: C, error: unknown) => void,
  ) {}

  /** After a read of `c`: look at its watched streams now, or once its wait is over. */
  afterRead(c: C): void {
    if (c.stopWatchCount === 0) return;
    if (c.stopLookWaiting) {
      c.stopLookMissed = true;
      return;
    }
    this.look(c);
  }

  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    for (const c of this.waiting) c.stopLookWaiting = false;
    this.waiting = [];
  }

  private look(c: C): void {
    c.stopLookMissed = false;
    c.stopLookWaiting = true;
    c.stopLookDueAt = performance.now() + c.stopWatchCount * STOP_LOOK_MS_PER_STREAM;
    this.waiting.push(c);
    if (this.timer === null) {
      this.timer = setTimeout(() => this.tick(), STOP_LOOK_TICK_MS);
      this.timer.unref();
    }
    c.lookForStops();
  }

  private tick(): void {
    this.timer = null;
    const now = performance.now();
    const due = this.waiting;
    this.waiting = [];
    for (const c of due) {
      if (c.closed) {
        c.stopLookWaiting = false;
        continue;
      }
      if (now < c.stopLookDueAt) {
        this.waiting.push(c);
        continue;
      }
      c.stopLookWaiting = false;
      if (!c.stopLookMissed) continue;
      try {
        this.look(c);
      } catch (error) {
        this.failed(c, error); // an onStopSending handler threw: only c pays
      }
    }
    if (this.waiting.length !== 0 && this.timer === null) {
      this.timer = setTimeout(() => this.tick(), STOP_LOOK_TICK_MS);
      this.timer.unref();
    }
  }
}
