/**
 * The write deadline (TransportSettings.writeDeadlineMs): a peer that answers nothing while bytes wait for
 * it — killed, cut off or stopped — is closed after the deadline instead of at the idle timeout, so what is
 * queued for it is released (NATS's write_deadline). The rule alone, on a connection's few fields; the
 * endpoint looks at every connection with it a few times per deadline and acts on the verdict.
 *
 * A datagram from the peer sets `heard` (a flag, not a clock read per datagram); each look turns that into
 * `lastHeardAt`. Bytes wait for the peer when quiche refused some (flow control, congestion) or when the
 * application wrote any since the peer's last datagram (`owed`: at a low rate everything fits in quiche's
 * buffers, and a dead peer's connection would otherwise look idle). A connection that bytes wait for and
 * that was silent since the last look is PINGed: a live peer's QUIC stack answers whatever its
 * application does, so a slow reader is never taken for a silent one. Only silence for the whole
 * deadline, with two PINGs unanswered and the first of them sent three round trips ago, closes — a path
 * slower than the deadline delays the close, it does not make it. A quiet connection (nothing written
 * since the peer last spoke; keep-alives do not count) is left to the idle timeout.
 */
import type { CloseInfo } from './errors.js';

/** Application close code and reason of a connection closed by the write deadline. */
export const WRITE_DEADLINE_CODE = 0x4;
export const WRITE_DEADLINE_REASON = 'write deadline';
/** What the connection's application hears (onClose) when the write deadline closes it. */
export const WRITE_DEADLINE_CLOSE: CloseInfo = Object.freeze({
  code: WRITE_DEADLINE_CODE,
  reason: WRITE_DEADLINE_REASON,
  isApp: true,
  byPeer: false,
  timedOut: false,
});

/** PINGs left unanswered, besides the deadline's silence, before a connection is closed. */
export const UNANSWERED_PROBES_TO_CLOSE = 2;
/** Round trips the first unanswered PING must be older than before a close. */
export const PROBE_ROUND_TRIPS = 3;

/** What the rule reads and keeps of one connection. */
export interface DeadlineState {
  /** Bytes that wait for the peer (refused by flow control or congestion). */
  readonly queuedBytes: number;
  /** The application wrote bytes for the peer since its last datagram. */
  readonly owed: boolean;
  /** A datagram of this connection arrived since the last look. */
  heard: boolean;
  /** When a look last found `heard` (or the handshake completed). */
  lastHeardAt: number;
  /** PINGs sent since the peer was last heard. */
  unansweredProbes: number;
  /** When the first of them was sent. */
  firstProbeAt: number;
}

/** How often the endpoint looks: a few times per deadline, at most once a second. */
export function writeDeadlineLookMs(deadlineMs: number): number {
  return Math.max(10, Math.min(1000, Math.floor(deadlineMs / 4)));
}

/**
 * One look at one connection at `now`: 'probe' (send it a PING; counted here as unanswered until the peer
 * is heard), 'close', or null (nothing to do). `roundTripMs` is asked only when a close is due.
 */
export function lookAt<C extends DeadlineState>(
  c: C,
  now: number,
  deadlineMs: number,
  lookMs: number,
  roundTripMs: (c: C) => number,
): 'probe' | 'close' | null {
  if (c.heard) {
    c.heard = false;
    c.lastHeardAt = now;
    c.unansweredProbes = 0;
    return null;
  }
  // Nothing waits for the peer: a quiet connection, which the idle timeout and keep-alives look after.
  if (c.queuedBytes === 0 && !c.owed) {
    c.unansweredProbes = 0;
    return null;
  }
  const silentMs = now - c.lastHeardAt;
  if (
    silentMs >= deadlineMs &&
    c.unansweredProbes >= UNANSWERED_PROBES_TO_CLOSE &&
    now - c.firstProbeAt >= PROBE_ROUND_TRIPS * roundTripMs(c)
  ) {
    return 'close';
  }
  if (silentMs < lookMs) return null;
  if (c.unansweredProbes === 0) c.firstProbeAt = now;
  c.unansweredProbes++;
  return 'probe';
}
