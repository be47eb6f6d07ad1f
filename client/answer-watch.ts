/**
 * Probes a connection whose requests wait for answers while the broker says nothing. Requests that are
 * written and acknowledged at the QUIC level (publishes waiting for FELIX_ACK_ON_COMMIT's commit, say)
 * leave the connection nothing to send: killed and restarted, the broker would be told of the connection
 * — and answer it with a stateless reset — only at its next keep-alive, up to 15 s later by default. So
 * while requests wait, a connection that received no packet for PROBE_AFTER_MS is sent a PING
 * (Connection.probe): a live broker's QUIC stack acknowledges it whatever its application does, a
 * restarted one with the same reset key resets the connection at once, and the pool reconnects.
 *
 * One timer per connection, armed by the first request that waits and stopped by the first look that
 * finds none waiting: no timer per request, and a connection whose requests are answered as they go never
 * probes (every answer is a packet).
 */
import type { Connection } from '../transport/index.js';

/** How long a connection with requests waiting may go without a packet before it is probed. */
export const PROBE_AFTER_MS = 1_000;

export class AnswerWatch {
  private timer: NodeJS.Timeout | null = null;
  /** The connection looked at, and the packets it had received at the last look. */
  private watched: Connection | null = null;
  private received = 0;
  private readonly lookBound = (): void => this.look();

  constructor(
    /** The connection now (undefined while there is none: reconnecting). */
    private readonly connection: () => Connection | undefined,
    /** Whether requests on it wait for answers. */
    private readonly waiting: () => boolean,
    private readonly periodMs = PROBE_AFTER_MS,
  ) {}

  /** A request was sent that waits for its answer: looks in a period unless already watching. */
  arm(): void {
    if (this.timer !== null) return;
    this.note(this.connection());
    this.schedule();
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.watched = null;
  }

  private look(): void {
    this.timer = null;
    if (!this.waiting()) {
      this.watched = null;
      return;
    }
    const connection = this.connection();
    if (connection !== undefined && connection === this.watched && !connection.closed) {
      if (packetsReceived(connection) === this.received) connection.probe();
    }
    this.note(connection);
    this.schedule();
  }

  private note(connection: Connection | undefined): void {
    this.watched = connection === undefined || connection.closed ? null : connection;
    if (this.watched !== null) this.received = packetsReceived(this.watched);
  }

  private schedule(): void {
    this.timer = setTimeout(this.lookBound, this.periodMs);
    this.timer.unref();
  }
}

/** The packets `connection` received so far; NaN (never equal: no probe) when quiche cannot say. */
function packetsReceived(connection: Connection): number {
  try {
    return connection.stats().packetsReceived;
  } catch {
    return Number.NaN;
  }
}
