import { TransportSettingsError } from './errors.js';
import { quiche, type QuicheConfig } from './native.js';

export type CongestionControl = 'cubic' | 'reno' | 'bbr';
export const CONGESTION_CONTROLS: readonly CongestionControl[] = ['cubic', 'reno', 'bbr'];
/** Whether a batched UDP path (segmentation offload, recvmmsg) is used where the platform allows it. */
export type UdpBatchingMode = 'auto' | 'off';
export const UDP_BATCHING_MODES: readonly UdpBatchingMode[] = ['auto', 'off'];

/** Every knob here changes real quiche or socket behaviour; none is advisory. */
export interface TransportSettings {
  /** Connection-level receive window: initial MAX_DATA we grant and the ceiling auto-tuning may reach. */
  readonly connRecvWindow: number;
  /** Stream-level receive window: initial MAX_STREAM_DATA for every stream kind and its auto-tune ceiling. */
  readonly streamRecvWindow: number;
  /** Bytes a connection may hold queued for sending (beyond what quiche accepted) before writers must wait. */
  readonly sendWindow: number;
  /** UDP payload we send to non-loopback peers (path MTU). */
  readonly maxUdpPayload: number;
  /** UDP payload for loopback peers, where the MTU is 64 KiB: fewer, larger packets cost far less CPU. */
  readonly loopbackUdpPayload: number;
  readonly udpSendBuffer: number;
  readonly udpRecvBuffer: number;
  readonly congestionControl: CongestionControl;
  /**
   * Segmentation offload (Linux UDP_SEGMENT): 'auto' sends a run of a connection's equal-sized packets in
   * one sendmsg wherever the kernel takes it, 'off' sends every datagram through Node's dgram.
   */
  readonly udpGso: UdpBatchingMode;
  /**
   * Batched receive: 'auto' reads every waiting datagram with one recvmmsg into a reused buffer (Linux x64),
   * 'off' lets Node's dgram read them one by one.
   */
  readonly udpRecvmmsg: UdpBatchingMode;
  /** Milliseconds of silence after which the connection is closed; 0 disables the idle timeout. */
  readonly idleTimeoutMs: number;
  /**
   * Send a PING when nothing was sent for this long (ms), so a quiet but live connection (a subscriber
   * waiting for events) is not closed by the idle timeout; 0 disables keep-alives.
   */
  readonly keepAliveMs: number;
  /**
   * Close a connection whose peer answered nothing for this long (ms) while bytes waited for it (written
   * since it last sent anything, or refused by flow control or congestion): a peer killed, cut off or
   * stopped, noticed before the idle timeout and before what is queued for it grows (NATS's
   * write_deadline). A live peer is probed (PING) first; see write-deadline.ts. 0 disables it.
   */
  readonly writeDeadlineMs: number;
  /** Concurrent streams of each direction kind the peer may open on one connection. */
  readonly maxStreamsBidi: number;
  readonly maxStreamsUni: number;
}

const KiB = 1024;
export const MAX_QUICHE_PACKET = 16_383;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export const DEFAULT_TRANSPORT_SETTINGS: TransportSettings = Object.freeze({
  connRecvWindow: 64 * MiB,
  streamRecvWindow: 16 * MiB,
  sendWindow: 64 * MiB,
  maxUdpPayload: 1350,
  loopbackUdpPayload: 16_383,
  udpSendBuffer: 8 * MiB,
  udpRecvBuffer: 8 * MiB,
  congestionControl: 'cubic',
  udpGso: 'auto',
  udpRecvmmsg: 'auto',
  idleTimeoutMs: 30_000,
  keepAliveMs: 10_000,
  writeDeadlineMs: 0,
  maxStreamsBidi: 1024,
  maxStreamsUni: 1024,
});

interface IntRange {
  readonly min: number;
  readonly max: number;
  readonly unit: string;
}

// Windows are QUIC varints, but quiche keeps them in u64 and Node numbers stay exact below 2^53;
// 4 GiB is far beyond any useful window on this hardware and keeps arithmetic exact.
export const TRANSPORT_RANGES: Readonly<
  Record<Exclude<keyof TransportSettings, 'congestionControl' | 'udpGso' | 'udpRecvmmsg'>, IntRange>
> = {
  connRecvWindow: { min: 16 * KiB, max: 4 * GiB, unit: 'bytes' },
  streamRecvWindow: { min: 1 * KiB, max: 4 * GiB, unit: 'bytes' },
  sendWindow: { min: 0, max: 4 * GiB, unit: 'bytes' },
  // RFC 9000 §18.2: max_udp_payload_size below 1200 is invalid. quiche never builds a packet above
  // 16383 bytes (its length field stays a 2-byte varint), so a larger value would have no effect.
  maxUdpPayload: { min: 1200, max: MAX_QUICHE_PACKET, unit: 'bytes' },
  loopbackUdpPayload: { min: 1200, max: MAX_QUICHE_PACKET, unit: 'bytes' },
  udpSendBuffer: { min: 64 * KiB, max: 1 * GiB, unit: 'bytes' },
  udpRecvBuffer: { min: 64 * KiB, max: 1 * GiB, unit: 'bytes' },
  idleTimeoutMs: { min: 0, max: 24 * 3600 * 1000, unit: 'ms' },
  keepAliveMs: { min: 0, max: 24 * 3600 * 1000, unit: 'ms' },
  writeDeadlineMs: { min: 0, max: 24 * 3600 * 1000, unit: 'ms' },
  maxStreamsBidi: { min: 1, max: 1_000_000, unit: 'streams' },
  // 0: the peer may open none, e.g. a client that never subscribes and so wants no event streams.
  maxStreamsUni: { min: 0, max: 1_000_000, unit: 'streams' },
};

/** Merges overrides onto the defaults and validates every field; throws TransportSettingsError naming the field. */
export function resolveTransportSettings(overrides: Partial<TransportSettings> = {}): TransportSettings {
  const given = stripUndefined(overrides);
  const merged: TransportSettings = { ...DEFAULT_TRANSPORT_SETTINGS, ...given };
  if (given.keepAliveMs === undefined && given.idleTimeoutMs !== undefined) {
    // Unless told otherwise, ping three times per idle timeout.
    (merged as { keepAliveMs: number }).keepAliveMs = Math.floor(merged.idleTimeoutMs / 3);
  }
  for (const [key, range] of Object.entries(TRANSPORT_RANGES)) {
    const value = merged[key as keyof TransportSettings];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < range.min || value > range.max) {
      throw new TransportSettingsError(
        key,
        value,
        `an integer from ${range.min} to ${range.max} ${range.unit}`,
      );
    }
  }
  if (merged.keepAliveMs > 0 && merged.idleTimeoutMs > 0 && merged.keepAliveMs >= merged.idleTimeoutMs) {
    throw new TransportSettingsError(
      'keepAliveMs',
      merged.keepAliveMs,
      `0 or less than idleTimeoutMs (${merged.idleTimeoutMs} ms): a keep-alive after the idle timeout keeps nothing alive`,
    );
  }
  if (!CONGESTION_CONTROLS.includes(merged.congestionControl)) {
    throw new TransportSettingsError(
      'congestionControl',
      merged.congestionControl,
      CONGESTION_CONTROLS.join(' | '),
    );
  }
  if (!UDP_BATCHING_MODES.includes(merged.udpGso)) {
    throw new TransportSettingsError('udpGso', merged.udpGso, UDP_BATCHING_MODES.join(' | '));
  }
  if (!UDP_BATCHING_MODES.includes(merged.udpRecvmmsg)) {
    throw new TransportSettingsError('udpRecvmmsg', merged.udpRecvmmsg, UDP_BATCHING_MODES.join(' | '));
  }
  return Object.freeze(merged);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

export const ALPN = 'felix';

/**
 * The application protocols (ALPN ids) an endpoint offers (client) or accepts (server), in preference
 * order; defaults to Felix's. Each id is 1–255 bytes of UTF-8 (RFC 7301); throws TransportSettingsError.
 */
export function resolveAlpn(alpn: string | readonly string[] = [ALPN]): readonly string[] {
  const list = typeof alpn === 'string' ? [alpn] : [...alpn];
  const valid = (id: unknown): boolean => {
    if (typeof id !== 'string') return false;
    const bytes = Buffer.byteLength(id, 'utf8');
    return bytes >= 1 && bytes <= 255;
  };
  if (list.length === 0 || !list.every(valid)) {
    throw new TransportSettingsError('alpn', alpn, 'one or more protocol ids of 1 to 255 bytes');
  }
  return Object.freeze(list);
}

/** quiche's CONNECTION_WINDOW_FACTOR: the connection window it keeps over any stream's window. */
export const CONNECTION_WINDOW_FACTOR = 1.5;

/** The connection receive window's ceiling: the setting, or quiche's bound over the stream window. */
export function connectionWindowCeiling(
  s: Pick<TransportSettings, 'connRecvWindow' | 'streamRecvWindow'>,
): number {
  return Math.max(s.connRecvWindow, Math.ceil(s.streamRecvWindow * CONNECTION_WINDOW_FACTOR));
}

/** Applies the settings to a quiche Config already carrying its TLS context. */
export function applySettings(
  config: QuicheConfig,
  s: TransportSettings,
  udpPayload: number,
  alpn: readonly string[] = [ALPN],
): void {
  // A server whose list holds none of the client's ids fails the handshake at once with TLS alert
  // no_application_protocol (BoringSSL requires ALPN under QUIC; RFC 9001 §8.1).
  config.setApplicationProtos([...alpn]);
  config.setMaxIdleTimeout(s.idleTimeoutMs);
  // What we accept from the peer: anything a UDP datagram can carry.
  config.setMaxRecvUdpPayloadSize(65_527);
  config.setMaxSendUdpPayloadSize(udpPayload);
  config.setInitialMaxData(s.connRecvWindow);
  // quiche keeps the connection window at least CONNECTION_WINDOW_FACTOR × a stream's window, above the
  // ceiling if need be; its next auto-tune then cuts the window back to the ceiling and with it the limit
  // it checks arriving data against, below what it already granted the peer: the peer's next bytes end the
  // connection with FLOW_CONTROL_ERROR (seen with equal stream and connection windows). So the ceiling is
  // never below that bound.
  config.setMaxConnectionWindow(connectionWindowCeiling(s));
  config.setInitialMaxStreamDataBidiLocal(s.streamRecvWindow);
  config.setInitialMaxStreamDataBidiRemote(s.streamRecvWindow);
  config.setInitialMaxStreamDataUni(s.streamRecvWindow);
  config.setMaxStreamWindow(s.streamRecvWindow);
  config.setInitialMaxStreamsBidi(s.maxStreamsBidi);
  config.setInitialMaxStreamsUni(s.maxStreamsUni);
  config.setCcAlgorithmName(s.congestionControl);
  // Pacing on, although nothing here honours SendInfo.at (the binding hands it over as an opaque value):
  // quiche 0.18 stamps each sent packet, the time its RTT sample is measured from, with its pacer's
  // next_time. With pacing off that clock moves only when the pacer resets, which stops happening once
  // cwnd < 0.8 × the initial window (after a loss) while packets keep flowing — the smoothed RTT then
  // becomes the connection's age and the PTO follows (issue 12 item 6). With pacing on the pacer counts
  // bytes and the stamp stays current, except until a connection has sent 10 × its datagram size.
  // quiche ≥ 0.24.7 stamps `now` instead (cloudflare/quiche#2297).
  config.enablePacing(true);
  // recvInfo.to is fixed per connection (one bound address), so a migrated path could not be served.
  config.setDisableActiveMigration(true);
}

export const MAX_UDP_PACKET = quiche.MAX_UDP_PACKET_SIZE;
